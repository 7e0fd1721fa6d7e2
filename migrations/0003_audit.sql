-- Append-only audit log: one entry per change made through the API, written in the change's own
-- transaction. The runtime role may INSERT and SELECT only; a trigger refuses UPDATE and DELETE
-- for everyone (the owner included), so history cannot be rewritten from the app.

create table audit_log (
  tenant_id uuid not null references tenants (id) on delete cascade,
  id uuid not null default uuid_v7(),
  actor_id uuid references users (id),
  action text not null check (action in ('created', 'updated', 'deleted', 'published', 'scheduled',
    'member_added', 'role_changed', 'member_removed', 'subscription_changed', 'anonymized')),
  object_type text not null,
  object_id text not null,
  changes jsonb not null default '{}',
  request_id text,
  created_at timestamptz(3) not null default now(), -- milliseconds: the precision of a keyset cursor
  primary key (tenant_id, id)
);
create index audit_log_object on audit_log (tenant_id, object_type, object_id, id desc);
create index audit_log_actor on audit_log (tenant_id, actor_id, id desc);

grant select, insert on audit_log to atrium_runtime;
alter table audit_log enable row level security;
alter table audit_log force row level security;
create policy tenant_isolation on audit_log
  using (tenant_id = current_tenant_id())
  with check (tenant_id = current_tenant_id());

create function audit_log_is_append_only() returns trigger
language plpgsql as $$
begin
  -- a tenant deleted as a whole takes its history with it (ON DELETE CASCADE runs as the owner)
  if tg_op = 'DELETE' and not exists (select 1 from tenants where id = old.tenant_id) then
    return old;
  end if;
  raise exception 'audit_log is append-only' using errcode = '42501';
end
$$;
create trigger audit_log_append_only before update or delete on audit_log
  for each row execute function audit_log_is_append_only();

-- memberships (0002) is keyset-paginated on (created_at, user_id) too: store what a cursor carries
alter table memberships alter column created_at type timestamptz(3);
