package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mangrove-soc/mangrove/collectors/event"
)

// externalEnv names a NATS server with JetStream for TestExternalCluster.
const externalEnv = "MANGROVE_TEST_NATS_URL"

// TestExternalCluster runs the bus against an external NATS JetStream
// server, in a stream of its own that it deletes afterwards.
func TestExternalCluster(t *testing.T) {
	url := os.Getenv(externalEnv)
	if url == "" {
		t.Skip(externalEnv + " is not set: set it to a NATS server with JetStream (e.g. nats://127.0.0.1:4222) to run this test")
	}
	var r [6]byte
	rand.Read(r[:])
	suffix := hex.EncodeToString(r[:])
	cfg := Config{
		URL:         url,
		Stream:      "MANGROVE_TEST_" + suffix,
		Subject:     "mangrove.test." + suffix,
		Consumers:   []string{"detect", "store"},
		MaxMsgBytes: minMsgBytes,
		RetryDelay:  20 * time.Millisecond,
		AckWait:     5 * time.Second,
	}
	t.Cleanup(func() {
		nc, err := nats.Connect(url)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, cfg.Stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("cleanup: deleting stream %s: %v", cfg.Stream, err)
		}
	})

	j, err := OpenJetStream(t.Context(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	batches := testBatches(10, 100)
	batches = append(batches, makeEvents(10, 1000)) // split into several messages
	publishAll(t, t.Context(), j, batches...)
	publishAll(t, t.Context(), j, batches[0]) // duplicate, dropped by the stream
	if _, err := j.js.PublishMsg(t.Context(), &nats.Msg{Subject: cfg.Subject, Data: []byte("poison")}); err != nil {
		t.Fatal(err)
	}

	// store consumes everything, failing once; detect nothing yet.
	store := newRecorder()
	var failed atomic.Bool
	store.fail = func([]event.Event) error {
		if !failed.Swap(true) {
			return errors.New("transient")
		}
		return nil
	}
	stop := runConsumer(t, j, "store", 2, store.handle)
	waitConsumed(t, j, "store", store, 2000)
	stop()
	if d := store.check(t, batches...); d != 0 {
		t.Errorf("store: %d duplicates", d)
	}
	dupChunks, _ := encodeBatch(batches[0], j.maxPayload, nil)
	s := j.Stats()
	if s.DuplicateMessages != uint64(len(dupChunks)) || s.HandlerErrors != 1 || s.Redeliveries != 1 || s.PoisonMessages != 1 || s.PublishedMessages < 12 {
		t.Errorf("stats = %+v", s)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}

	// Reconnect: detect still gets every event.
	j = openTest(t, cfg)
	detect := newRecorder()
	runConsumer(t, j, "detect", 2, detect.handle)
	waitConsumed(t, j, "detect", detect, 2000)
	if d := detect.check(t, batches...); d != 0 {
		t.Errorf("detect: %d duplicates", d)
	}
	waitFor(t, "stream to empty", func() bool {
		st, err := j.js.Stream(t.Context(), cfg.Stream)
		return err == nil && st.CachedInfo().State.Msgs == 0
	})
}
