-- A CRM table to push into Intercom: `meltano run tap-postgres target-intercom`.
CREATE SCHEMA IF NOT EXISTS crm;
DROP TABLE IF EXISTS crm.customers;
CREATE TABLE crm.customers (
    customer_id text PRIMARY KEY,
    email text NOT NULL,
    full_name text,
    phone text,
    lifetime_value integer,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO crm.customers VALUES
    ('c-2001', 'ines@example.net', 'Inès Dupont', '+33 1 55 55 01 01', 1200, now()),
    ('c-2002', 'kenji@example.net', 'Kenji Watanabe', NULL, 300, now()),
    ('c-2003', 'olu@example.net', 'Olúwaseun Adébáyọ̀', '+234 1 555 0103', 5400, now());
