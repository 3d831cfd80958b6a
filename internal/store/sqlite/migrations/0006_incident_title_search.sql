-- Substring search of incident titles through a trigram index, so that a
-- title search stays fast with hundreds of thousands of incidents.
CREATE VIRTUAL TABLE incidents_title USING fts5(title, content='incidents', content_rowid='rowid', tokenize='trigram');
INSERT INTO incidents_title (rowid, title) SELECT rowid, title FROM incidents;
CREATE TRIGGER incidents_title_insert AFTER INSERT ON incidents BEGIN
	INSERT INTO incidents_title (rowid, title) VALUES (new.rowid, new.title);
END;
CREATE TRIGGER incidents_title_delete AFTER DELETE ON incidents BEGIN
	INSERT INTO incidents_title (incidents_title, rowid, title) VALUES ('delete', old.rowid, old.title);
END;
CREATE TRIGGER incidents_title_update AFTER UPDATE OF title ON incidents WHEN old.title IS NOT new.title BEGIN
	INSERT INTO incidents_title (incidents_title, rowid, title) VALUES ('delete', old.rowid, old.title);
	INSERT INTO incidents_title (rowid, title) VALUES (new.rowid, new.title);
END;
