-- Billing: the payment provider's webhook events, the subscription state they drive, and the
-- receipts sent for paid invoices.

-- Every event the provider delivered, once per event id: deduplication is global by id, so the
-- primary key is the id alone. This table is global, like users and tenants, and has no row-level
-- security on purpose: a webhook is not a tenant request, and tenant_id is only what the provider
-- claims, recorded before anyone knows whether that tenant exists (an unknown one is kept, marked
-- 'ignored'). No API route reads it; what a tenant sees (subscriptions) is derived from it by the
-- billing job inside that tenant's scope.
create table payment_events (
  id text primary key check (length(id) between 1 and 255),
  type text not null,
  created timestamptz not null,
  tenant_id uuid,
  payload jsonb not null,
  status text not null default 'pending' check (status in ('pending', 'processed', 'ignored')),
  received_at timestamptz not null default now(),
  processed_at timestamptz
);
grant select, insert, update on payment_events to atrium_runtime;

-- One subscription per tenant. last_event_created is the `created` of the newest event applied:
-- only a strictly newer event changes the row, so a late or replayed event never moves it back.
create table subscriptions (
  tenant_id uuid primary key references tenants (id) on delete cascade,
  subscription_id text not null,
  plan text not null,
  status text not null check (status in ('active', 'past_due', 'canceled')),
  current_period_end timestamptz,
  last_event_created timestamptz not null,
  last_event_id text not null,
  updated_at timestamptz(3) not null default now()
);
grant select, insert, update on subscriptions to atrium_runtime;
alter table subscriptions enable row level security;
alter table subscriptions force row level security;
create policy tenant_isolation on subscriptions
  using (tenant_id = current_tenant_id())
  with check (tenant_id = current_tenant_id());

-- The guard of the receipt email: the send job inserts the invoice's row and sends in the same
-- transaction, only when the insert was new, so however often the job runs one receipt goes out.
create table receipts (
  tenant_id uuid not null references tenants (id) on delete cascade,
  invoice_id text not null,
  event_id text not null,
  email text not null,
  message_id text not null,
  amount_cents bigint,
  sent_at timestamptz not null default now(),
  primary key (tenant_id, invoice_id)
);
grant select, insert on receipts to atrium_runtime;
alter table receipts enable row level security;
alter table receipts force row level security;
create policy tenant_isolation on receipts
  using (tenant_id = current_tenant_id())
  with check (tenant_id = current_tenant_id());

-- Webhook ingestion in one statement (one implicit transaction): record the event and, only when
-- its id is new, write the outbox row of its processing job, the same row enqueue() writes
-- (src/jobs/outbox.ts). One statement instead of BEGIN, set_config, two inserts and COMMIT:
-- on this hot path every statement costs CPU on both sides (see DESIGN.md, Performance rules).
-- Returns true when the event was new.
create function payment_event_record(
  p_id text, p_type text, p_created bigint, p_tenant_id uuid, p_payload jsonb,
  p_queue text, p_job_name text, p_request_id text, p_tag text
)
returns boolean
language plpgsql volatile security invoker as $$
begin
  perform set_config('application_name', p_tag, true);
  insert into payment_events (id, type, created, tenant_id, payload)
    values (p_id, p_type, to_timestamp(p_created), p_tenant_id, p_payload)
    on conflict (id) do nothing;
  if not found then
    return false;
  end if;
  insert into outbox (queue, job_name, payload, tenant_id, request_id)
    values (p_queue, p_job_name, jsonb_build_object('event_id', p_id), null, p_request_id);
  return true;
end
$$;
grant execute on function payment_event_record(text, text, bigint, uuid, jsonb, text, text, text, text) to atrium_runtime;

-- GET /v1/subscription: one statement that scopes itself, like article_get (0005).
create function subscription_get(p_tenant_id uuid, p_tag text)
returns table (plan text, status text, current_period_end timestamptz, updated_at timestamptz)
language plpgsql volatile security invoker as $$
begin
  perform set_config('app.tenant_id', p_tenant_id::text, true), set_config('application_name', p_tag, true);
  return query
    select s.plan, s.status, s.current_period_end, s.updated_at
    from subscriptions s
    where s.tenant_id = p_tenant_id;
end
$$;
grant execute on function subscription_get(uuid, text) to atrium_runtime;
