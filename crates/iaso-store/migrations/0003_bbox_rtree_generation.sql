-- Spatial index on the org units' bounding boxes for map windows (`bbox=`): an R*Tree kept in
-- step by triggers on SQLite, a GiST index on the box expression on PostgreSQL (no PostGIS
-- needed). Replaces the b-tree on the box columns, which only bounded one side.
DROP INDEX org_units_bbox;
--@sqlite
CREATE VIRTUAL TABLE org_units_rtree USING rtree(id, min_lon, max_lon, min_lat, max_lat);
INSERT INTO org_units_rtree (id, min_lon, max_lon, min_lat, max_lat)
    SELECT id, min_lon, max_lon, min_lat, max_lat FROM org_units WHERE min_lon IS NOT NULL;
CREATE TRIGGER org_units_rtree_insert AFTER INSERT ON org_units WHEN new.min_lon IS NOT NULL
BEGIN
    INSERT INTO org_units_rtree (id, min_lon, max_lon, min_lat, max_lat)
        VALUES (new.id, new.min_lon, new.max_lon, new.min_lat, new.max_lat);
END;
CREATE TRIGGER org_units_rtree_update AFTER UPDATE OF min_lon, max_lon, min_lat, max_lat ON org_units
BEGIN
    DELETE FROM org_units_rtree WHERE id = old.id;
    INSERT INTO org_units_rtree (id, min_lon, max_lon, min_lat, max_lat)
        SELECT new.id, new.min_lon, new.max_lon, new.min_lat, new.max_lat WHERE new.min_lon IS NOT NULL;
END;
CREATE TRIGGER org_units_rtree_delete AFTER DELETE ON org_units
BEGIN
    DELETE FROM org_units_rtree WHERE id = old.id;
END;
--@end
--@postgres
CREATE INDEX org_units_bbox_gist ON org_units
    USING gist (box(point(min_lon, min_lat), point(max_lon, max_lat)))
    WHERE min_lon IS NOT NULL;
--@end

-- A counter of georegistry writes: any change to org units, group memberships or the types of
-- projects bumps it in the writing transaction, so cached counts of list queries can be reused
-- exactly as long as nothing they depend on changed (read it before counting).
CREATE TABLE georegistry_generation (
    id BIGINT PRIMARY KEY,
    n BIGINT NOT NULL
);
INSERT INTO georegistry_generation (id, n) VALUES (1, 0);
--@sqlite
CREATE TRIGGER georegistry_gen_ou_insert AFTER INSERT ON org_units
BEGIN UPDATE georegistry_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER georegistry_gen_ou_update AFTER UPDATE ON org_units
BEGIN UPDATE georegistry_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER georegistry_gen_ou_delete AFTER DELETE ON org_units
BEGIN UPDATE georegistry_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER georegistry_gen_gou_insert AFTER INSERT ON group_org_units
BEGIN UPDATE georegistry_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER georegistry_gen_gou_delete AFTER DELETE ON group_org_units
BEGIN UPDATE georegistry_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER georegistry_gen_outp_insert AFTER INSERT ON org_unit_type_projects
BEGIN UPDATE georegistry_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER georegistry_gen_outp_delete AFTER DELETE ON org_unit_type_projects
BEGIN UPDATE georegistry_generation SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER georegistry_gen_out_update AFTER UPDATE ON org_unit_types
BEGIN UPDATE georegistry_generation SET n = n + 1 WHERE id = 1; END;
--@end
--@postgres
CREATE FUNCTION georegistry_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE georegistry_generation SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER georegistry_gen_ou AFTER INSERT OR UPDATE OR DELETE ON org_units
    FOR EACH STATEMENT EXECUTE FUNCTION georegistry_bump();
CREATE TRIGGER georegistry_gen_gou AFTER INSERT OR UPDATE OR DELETE ON group_org_units
    FOR EACH STATEMENT EXECUTE FUNCTION georegistry_bump();
CREATE TRIGGER georegistry_gen_outp AFTER INSERT OR UPDATE OR DELETE ON org_unit_type_projects
    FOR EACH STATEMENT EXECUTE FUNCTION georegistry_bump();
CREATE TRIGGER georegistry_gen_out AFTER UPDATE ON org_unit_types
    FOR EACH STATEMENT EXECUTE FUNCTION georegistry_bump();
--@end
