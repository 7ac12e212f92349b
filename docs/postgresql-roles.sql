-- cenomed on PostgreSQL: the application connects with a role of its own that can append to
-- the audit log but never change or remove what it holds (R23).
--
-- Two roles:
--   cenomed_owner  owns the schema; runs the migrations ('cenomed init', or alembic upgrade
--                  head). Only it (or a superuser) can drop the audit log's triggers.
--   cenomed_app    the API workers and the CLI's day-to-day commands.
--
-- Run this as cenomed_owner (psql -d <database> -f docs/postgresql-roles.sql) after each
-- migration, once cenomed_app exists (CREATE ROLE cenomed_app LOGIN PASSWORD '...', or
-- certificate authentication). tests/audit/test_roles.py applies it and checks the result.

GRANT USAGE ON SCHEMA public TO cenomed_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO cenomed_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO cenomed_app;

-- The log and its checkpoints: read and append, nothing else.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_event, audit_checkpoint FROM cenomed_app;
-- The chain's head: moved forward at each append, never removed.
REVOKE DELETE, TRUNCATE ON audit_head FROM cenomed_app;
-- The schema's history is the owner's.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM cenomed_app;
