-- Foundation: helpers, the transactional outbox, and the privileges model.
-- Runs as the owner. The runtime role (member of atrium_runtime) owns nothing and has no
-- BYPASSRLS; every tenant table enables and forces row-level security keyed on app.tenant_id.

revoke create on schema public from public;
grant usage on schema public to atrium_runtime;

-- Time-ordered UUID (RFC 9562 v7): 48-bit unix milliseconds, then random bits.
create or replace function uuid_v7() returns uuid
language sql volatile parallel safe as $$
  select encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              placing substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
              from 1 for 6),
      52, 1), 53, 1), 'hex')::uuid
$$;

-- The tenant of the current transaction or statement, NULL when none is set.
create or replace function current_tenant_id() returns uuid
language sql stable parallel safe as $$
  select nullif(current_setting('app.tenant_id', true), '')::uuid
$$;

-- Transactional outbox: a service inserts a row in its own transaction; the worker's relay moves
-- committed rows to BullMQ (job id derived from the row id) and marks them relayed.
create table outbox (
  id bigint generated always as identity primary key,
  queue text not null,
  job_name text not null,
  payload jsonb not null default '{}',
  tenant_id uuid,
  request_id text,
  delay_ms integer not null default 0 check (delay_ms >= 0),
  job_id text,
  created_at timestamptz not null default now(),
  relayed_at timestamptz
);
create index outbox_pending on outbox (id) where relayed_at is null;
grant select, insert, update on outbox to atrium_runtime;

create or replace function outbox_notify() returns trigger
language plpgsql as $$
begin
  perform pg_notify('atrium_outbox', '');
  return null;
end
$$;
create trigger outbox_notify after insert on outbox
  for each statement execute function outbox_notify();
