-- At most one export waiting per user: POST /v1/me/exports while the caller's export is still
-- pending answers that export instead of queuing another, so a client retrying, or a script in a
-- loop, cannot queue dozens of whole-account exports. Once an export has started, a new request
-- queues a new one. Older waiting duplicates made before this migration are failed; their jobs
-- then find nothing to do.
update exports e set status = 'failed', updated_at = now()
where e.status = 'pending'
  and exists (select 1 from exports newer where newer.user_id = e.user_id and newer.status = 'pending' and newer.id > e.id);

create unique index exports_one_pending on exports (user_id) where status = 'pending';
