-- Feature flags: global definitions (a flag spans tenants), so no tenant_id and no row-level
-- security. Every instance holds them all in memory and reloads on change (see plugins/feature-flags.ts).
-- The runtime role may read, create and replace flags, never delete them.

create table feature_flags (
  key text primary key check (key ~ '^[a-z0-9-]{1,64}$'),
  description text not null,
  enabled boolean not null default false,
  internal_only boolean not null default false,
  tenants uuid[] not null default '{}',
  percentage integer not null default 0 check (percentage between 0 and 100),
  updated_at timestamptz not null default now()
);
grant select, insert, update on feature_flags to atrium_runtime;

-- The flag the article schedule route is gated by: defined, enabled, reaching no tenant until
-- staff list tenants or raise the percentage.
insert into feature_flags (key, description, enabled, internal_only, tenants, percentage)
values ('scheduled-publishing', 'Schedule articles to be published later', true, false, '{}', 0);
