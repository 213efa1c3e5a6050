-- Trigram indexes for text search of org units (`search=`: a substring of the name, or an
-- alias), so that a rare term is found without scanning every name of the version.
-- SQLite: an FTS5 table with the trigram tokenizer over (name_key, aliases_key), kept in step
-- by triggers; the store asks it for the candidate ids of a term and rechecks them with LIKE.
-- PostgreSQL: a GIN index with pg_trgm (a trusted contrib extension), which the planner uses
-- for `LIKE '%term%'` by itself; where the extension is not installed, search scans the name
-- index as before.
--@sqlite
CREATE VIRTUAL TABLE org_units_trgm USING fts5(
    name_key, aliases_key, content = 'org_units', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO org_units_trgm (org_units_trgm) VALUES ('rebuild');
CREATE TRIGGER org_units_trgm_insert AFTER INSERT ON org_units
BEGIN
    INSERT INTO org_units_trgm (rowid, name_key, aliases_key)
        VALUES (new.id, new.name_key, new.aliases_key);
END;
CREATE TRIGGER org_units_trgm_update AFTER UPDATE OF name_key, aliases_key ON org_units
BEGIN
    INSERT INTO org_units_trgm (org_units_trgm, rowid, name_key, aliases_key)
        VALUES ('delete', old.id, old.name_key, old.aliases_key);
    INSERT INTO org_units_trgm (rowid, name_key, aliases_key)
        VALUES (new.id, new.name_key, new.aliases_key);
END;
CREATE TRIGGER org_units_trgm_delete AFTER DELETE ON org_units
BEGIN
    INSERT INTO org_units_trgm (org_units_trgm, rowid, name_key, aliases_key)
        VALUES ('delete', old.id, old.name_key, old.aliases_key);
END;
--@end
--@postgres
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is not available (%): org unit search scans the name index', SQLERRM;
END
$$;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX org_units_name_trgm ON org_units
            USING gin (name_key gin_trgm_ops, aliases_key gin_trgm_ops);
    END IF;
END
$$;
--@end
