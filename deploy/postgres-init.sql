-- Runs once, when the postgres volume is first created: the Prefect server's database beside the
-- project's own (POSTGRES_DB). Both belong to POSTGRES_USER.
CREATE DATABASE prefect;
