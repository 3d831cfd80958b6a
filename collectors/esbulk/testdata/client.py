# Ships documents to the esbulk endpoint with the official Python
# Elasticsearch client (Debian package python3-elasticsearch): the client
# verifies the product (GET / and X-Elastic-Product) before any request and
# sends _bulk with its helpers. Usage: client.py URL ID KEY N
import json
import sys

from elasticsearch import Elasticsearch, helpers

url, key_id, key, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
es = Elasticsearch(url, api_key=(key_id, key), http_compress=True)
info = es.info()


def docs():
    for i in range(n):
        yield {"_index": "winlogbeat-8.17.0", "_op_type": "create",
               "_source": {"@timestamp": "2024-12-20T01:02:03.000Z", "message": "event %d" % i,
                           "host": {"name": "ws%02d" % (i % 7)}}}
    # One broken document: an item error, not a failed request.
    yield {"_index": "winlogbeat-8.17.0", "_op_type": "delete", "_id": "nope"}


ok, errors = helpers.bulk(es, docs(), chunk_size=250, raise_on_error=False, stats_only=False)
print(json.dumps({"version": info["version"]["number"], "ok": ok,
                  "errors": [list(e.values())[0]["status"] for e in errors]}))
