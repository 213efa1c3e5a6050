import { describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import DataTable from '../src/components/DataTable.vue';
import StateView from '../src/components/StateView.vue';
import { ApiError } from '../src/api/client';
import { useSession } from '../src/stores/session';
import { routes } from '../src/router/routes';
import type { Profile } from '../src/api/profiles';

const columns = [
  { key: 'name', label: 'Name', sortKey: 'name' },
  { key: 'n', label: 'N' },
];

function table(rows: { id: number; name: string; n: number }[], extra: Record<string, unknown> = {}) {
  return mount(DataTable, {
    props: {
      caption: 'Things',
      columns,
      rows,
      rowKey: (r: unknown) => (r as { id: number }).id,
      loading: false,
      error: null,
      count: rows.length,
      page: 1,
      pages: 1,
      limit: rows.length || 20,
      ...extra,
    },
  });
}

describe('DataTable', () => {
  it('keeps a 10 000-row page to a few dozen rows in the DOM', () => {
    const rows = Array.from({ length: 10_000 }, (_, i) => ({ id: i, name: `Row ${i}`, n: i }));
    const w = table(rows);
    const rendered = w.findAll('.dt-body .dt-row').length;
    expect(rendered).toBeGreaterThan(5);
    expect(rendered).toBeLessThan(60);
  });

  it('renders small pages whole, sorts and pages through events', async () => {
    const w = table([{ id: 1, name: 'A', n: 1 }], { count: 45, pages: 3, limit: 20, order: 'name' });
    expect(w.findAll('.dt-body .dt-row')).toHaveLength(1);
    expect(w.text()).toContain('1–20 of 45');
    await w.find('.sort-btn').trigger('click');
    expect(w.emitted('update:order')?.[0]).toEqual(['-name']);
    await w.find('button[aria-label="Next page"]').trigger('click');
    expect(w.emitted('update:page')?.[0]).toEqual([2]);
  });

  it('shows the empty and error states', async () => {
    const empty = table([], { emptyText: 'No thing yet.' });
    expect(empty.text()).toContain('No thing yet.');
    const failed = table([], { error: new ApiError(500, null) });
    expect(failed.text()).toContain('error 500');
    await failed.find('button').trigger('click');
    expect(failed.emitted('retry')).toHaveLength(1);
  });
});

describe('StateView', () => {
  it('shows loading, error, empty, then content', () => {
    const slots = { default: '<p>content</p>' };
    expect(mount(StateView, { props: { loading: true, error: null }, slots }).text()).toContain('Loading');
    expect(mount(StateView, { props: { loading: false, error: new ApiError(0, null) }, slots }).text()).toContain('cannot be reached');
    expect(mount(StateView, { props: { loading: false, error: null, empty: true, emptyText: 'Nada' }, slots }).text()).toContain('Nada');
    expect(mount(StateView, { props: { loading: false, error: null }, slots }).text()).toContain('content');
  });
});

describe('menu permissions', () => {
  it('shows administration pages only to holders of their permissions', () => {
    const session = useSession();
    const visible = () => routes.filter((r) => r.meta?.menu && session.hasAny(r.meta.permissions)).map((r) => r.name);
    session.setProfile({ is_superuser: false, permissions: ['iaso_user_roles'], account: { id: 1, name: 'A' } } as unknown as Profile);
    expect(visible()).toEqual(['home', 'roles']);
    session.setProfile({ is_superuser: true, permissions: [], account: { id: 1, name: 'A' } } as unknown as Profile);
    expect(visible()).toEqual(['home', 'orgunits', 'sources', 'orgunittypes', 'groups', 'forms', 'submissions', 'users', 'roles', 'projects', 'tasks']);
    session.setProfile({ is_superuser: false, permissions: ['iaso_org_units_read'], account: { id: 1, name: 'A' } } as unknown as Profile);
    expect(visible()).toEqual(['home', 'orgunits', 'sources', 'orgunittypes', 'groups']);
    session.setProfile({ is_superuser: false, permissions: ['iaso_submissions'], account: { id: 1, name: 'A' } } as unknown as Profile);
    expect(visible()).toEqual(['home', 'forms', 'submissions']);
  });
});
