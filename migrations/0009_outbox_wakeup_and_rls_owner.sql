-- 1. The outbox no longer notifies from a trigger. A commit that has issued NOTIFY takes a
--    database-wide lock while it commits, so every transaction that enqueued a job committed one at
--    a time (webhook ingestion fell to 0.13-0.26 of an article read). The app now sends one
--    debounced NOTIFY after commit (src/jobs/outbox.ts, wakeRelay); the relay still polls as well.
drop trigger if exists outbox_notify on outbox;
drop function if exists outbox_notify();

-- 2. Row-level security binds the runtime role (it owns nothing), not the owner. FORCE made it bind
--    the owner too, so the narrow SECURITY DEFINER functions (user_memberships and the privacy
--    ones) saw nothing whenever the owner is not a superuser, as on managed PostgreSQL services.
alter table memberships no force row level security;
alter table audit_log no force row level security;
alter table articles no force row level security;
alter table subscriptions no force row level security;
alter table receipts no force row level security;

-- 3. The audit log refuses TRUNCATE too (the row trigger of 0003 covers UPDATE and DELETE only).
create function audit_log_refuses_truncate() returns trigger
language plpgsql as $$
begin
  raise exception 'audit_log is append-only' using errcode = '42501';
end
$$;
create trigger audit_log_no_truncate before truncate on audit_log
  for each statement execute function audit_log_refuses_truncate();
