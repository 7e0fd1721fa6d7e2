-- Privacy (issue 14): exports stop at the tenants a user still belongs to, and account deletion
-- reaches the billing tables. Written to run as the non-superuser owner of the tables; every
-- SECURITY DEFINER function pins search_path with pg_temp last, so no temporary object can stand
-- in for a table it reads.

-- 1. Exports after removal. The two functions of 0008 returned every article the user ever
--    authored and every entry it ever acted in, in any tenant: a removed member kept exporting the
--    current text of articles of a tenant it had left (edited since by others). Now only rows of
--    tenants the user is a member of come back; what it did in a tenant it left is that tenant's.
create or replace function user_authored_articles(p_user_id uuid)
returns table (
  tenant_id uuid, tenant_slug text, tenant_name text, id uuid, title text, body text, status text, tags text[],
  publish_at timestamptz, published_at timestamptz, created_at timestamptz, updated_at timestamptz
)
language sql stable security definer set search_path = pg_catalog, public, pg_temp as $$
  select a.tenant_id, t.slug, t.name, a.id, a.title, a.body, a.status, a.tags,
    a.publish_at, a.published_at, a.created_at, a.updated_at
  from public.articles a
    join public.tenants t on t.id = a.tenant_id
    join public.memberships m on m.tenant_id = a.tenant_id and m.user_id = p_user_id
  where a.author_id = p_user_id
  order by a.created_at, a.id
$$;
revoke all on function user_authored_articles(uuid) from public;
grant execute on function user_authored_articles(uuid) to atrium_runtime;

create or replace function user_audit_entries(p_user_id uuid)
returns table (
  tenant_id uuid, tenant_slug text, id uuid, action text, object_type text, object_id text,
  changes jsonb, request_id text, created_at timestamptz
)
language sql stable security definer set search_path = pg_catalog, public, pg_temp as $$
  select a.tenant_id, t.slug, a.id, a.action, a.object_type, a.object_id, a.changes, a.request_id, a.created_at
  from public.audit_log a
    join public.tenants t on t.id = a.tenant_id
    join public.memberships m on m.tenant_id = a.tenant_id and m.user_id = p_user_id
  where a.actor_id = p_user_id
  order by a.created_at, a.id
$$;
revoke all on function user_audit_entries(uuid) from public;
grant execute on function user_audit_entries(uuid) to atrium_runtime;

-- 2. Account deletion and billing. The user's address stayed in receipts.email (the receipt was
--    sent to it) and in the stored webhook payloads (data.email). Called by the deletion job in its
--    transaction, before the user row is anonymized: it reads the address itself (a live user's
--    only), so the caller names a user, never an address. Receipts take the same replacement as
--    users.email; a payload loses data.email (an unsent receipt then goes to the tenant's owner, as
--    for an event without one). Receipts are row-level secured per tenant and the address may be
--    in any tenant: this runs as the owner, past RLS. Returns how many rows it changed; a second
--    call (the user already anonymized) changes nothing.
create or replace function anonymize_user_billing(p_user_id uuid)
returns integer
language plpgsql volatile security definer set search_path = pg_catalog, public, pg_temp as $$
declare
  v_email text;
  v_receipts integer;
  v_events integer;
begin
  select lower(u.email) into v_email from public.users u where u.id = p_user_id and u.deleted_at is null;
  if v_email is null then
    return 0;
  end if;
  update public.receipts r set email = 'deleted-' || p_user_id::text || '@deleted.invalid'
    where lower(r.email) = v_email;
  get diagnostics v_receipts = row_count;
  update public.payment_events e set payload = e.payload #- '{data,email}'
    where jsonb_typeof(e.payload -> 'data') = 'object' and lower(e.payload -> 'data' ->> 'email') = v_email;
  get diagnostics v_events = row_count;
  return v_receipts + v_events;
end
$$;
revoke all on function anonymize_user_billing(uuid) from public;
grant execute on function anonymize_user_billing(uuid) to atrium_runtime;
