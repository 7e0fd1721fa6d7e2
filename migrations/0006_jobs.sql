-- Jobs: the idempotency guard of job handlers, and what the outbox relay needs beyond 0001.

-- A handler claims its key here in the same transaction as its effect (src/jobs/once.ts): a second
-- run of the same job finds the key and does nothing; a rolled back run leaves no key behind.
create table processed_jobs (
  key text primary key,
  done_at timestamptz not null default now()
);
grant select, insert on processed_jobs to atrium_runtime;

-- The relay deletes relayed rows past their retention.
grant delete on outbox to atrium_runtime;

-- A row BullMQ would refuse could never be relayed and would hold up every row behind it.
alter table outbox
  add constraint outbox_queue_name check (queue ~ '^[a-z][a-z0-9-]{0,62}$'),
  add constraint outbox_job_name check (job_name <> ''),
  add constraint outbox_job_id check (job_id ~ '^[A-Za-z0-9._-]{1,200}$' and job_id !~ '^[0-9]+$');
