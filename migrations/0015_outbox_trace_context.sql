-- Traces into jobs (issue 19): an outbox row carries the W3C traceparent of the span that wrote it
-- (the request's server span, or the job's span when a job enqueues), so the worker's span for the
-- job joins that trace as its child. Null when tracing is off or the writer had no span; a relay
-- of an older version ignores the column. Inserting it needs no new grant: atrium_runtime's
-- table-wide insert and select on outbox (0001) cover new columns.
alter table outbox
  add column trace_context text,
  add constraint outbox_trace_context check (trace_context ~ '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$');
