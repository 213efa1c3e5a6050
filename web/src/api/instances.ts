// /api/instances/: submissions (list with Iaso's filters, map mode, detail, changes, locks, soft
// delete and restore in bulk, exports), and sending a new one (metadata call + OpenRosa).

import { api, queryString, toApiError, csrfToken, type Query } from './client';
import { fetchPage, type PageParams } from './paging';
import type { LogEntry } from './logs';

export interface UserSmall {
  username: string;
  first_name: string;
  last_name: string;
}

export interface InstanceOrgUnit {
  id: number;
  name: string;
  org_unit_type_name?: string | null;
  parent_name?: string | null;
  parent?: { id: number; name: string; parent?: unknown } | null;
}

export interface Instance {
  id: number;
  uuid: string | null;
  export_id: string | null;
  file_name: string | null;
  file_content: Record<string, unknown>;
  file_url: string | null;
  form_id: number | null;
  form_name: string | null;
  created_at: number;
  updated_at: number;
  source_created_at: number | null;
  source_updated_at: number | null;
  org_unit: InstanceOrgUnit | null;
  latitude: number | null;
  longitude: number | null;
  altitude: number | null;
  period: string | null;
  project_name: string | null;
  project_id: number | null;
  status: 'READY' | 'DUPLICATED' | 'EXPORTED';
  created_by: UserSmall | null;
  last_modified_by: string | null;
  can_user_modify: boolean;
  is_locked: boolean;
}

export interface DescriptorNode {
  name: string;
  type: string;
  label?: string | Record<string, string>;
  children?: DescriptorNode[];
}

export interface InstanceLock {
  id: number;
  locked_at: string;
  locked_by: { username: string } | null;
  unlocked_at: string | null;
  unlocked_by: { username: string } | null;
  top_org_unit: { id: number; name: string } | null;
}

export interface InstanceDetail extends Instance {
  form_version_id: number | null;
  form_descriptor: DescriptorNode | null;
  files: string[];
  deleted: boolean;
  accuracy: number | null;
  instance_locks: InstanceLock[];
}

/** The list filters as the dashboard keeps them (in the URL). */
export interface InstanceFilters {
  [k: string]: string | number[];
  search: string;
  forms: number[];
  parent: string;
  period: string;
  status: string;
  dateFrom: string;
  dateTo: string;
  deleted: string;
}

export const EMPTY_INSTANCE_FILTERS: InstanceFilters = {
  search: '',
  forms: [],
  parent: '',
  period: '',
  status: '',
  dateFrom: '',
  dateTo: '',
  deleted: '',
};

export const INSTANCE_STATUSES = ['READY', 'DUPLICATED', 'EXPORTED'] as const;

/** Our filters → Iaso's query parameters of `GET /api/instances/`. */
export function instanceQuery(f: InstanceFilters): Query {
  return {
    search: f.search || undefined,
    form_ids: f.forms,
    orgUnitParentId: f.parent || undefined,
    periods: f.period || undefined,
    status: f.status || undefined,
    dateFrom: f.dateFrom || undefined,
    dateTo: f.dateTo || undefined,
    showDeleted: f.deleted === 'true' ? true : undefined,
  };
}

export function listInstances(params: PageParams, f: InstanceFilters, signal?: AbortSignal) {
  return fetchPage<Instance>('/api/instances/', 'instances', params, instanceQuery(f), signal);
}

export interface InstanceLocation {
  id: number;
  latitude: number;
  longitude: number;
}

/** Map mode: the located submissions of the filter (at most `limit`), inside `bbox` when given. */
export function mapInstances(f: InstanceFilters, limit: number, bbox: [number, number, number, number] | null, signal?: AbortSignal) {
  return api.get<InstanceLocation[]>('/api/instances/map/', {
    query: { ...instanceQuery(f), limit, bbox: bbox ? bbox.map((x) => x.toFixed(5)) : undefined },
    signal,
  });
}

/** The download address of the filter as CSV or XLSX (Iaso exports one form at a time). */
export function instancesExportUrl(f: InstanceFilters, format: 'csv' | 'xlsx'): string {
  return '/api/instances/' + queryString({ ...instanceQuery(f), [format]: true });
}

export const getInstance = (id: number, signal?: AbortSignal) => api.get<InstanceDetail>(`/api/instances/${id}/`, { signal });

export interface InstanceChanges {
  org_unit?: number | null;
  period?: string;
  deleted?: boolean;
}
export const updateInstance = (id: number, body: InstanceChanges) => api.patch<InstanceDetail>(`/api/instances/${id}/`, body);

export const addLock = (id: number) => api.post<{ lock_id: number }>(`/api/instances/${id}/add_lock/`, {});
export const unlock = (lockId: number) => api.post(`/api/instances/unlock_lock/`, { lock: lockId });

/** Soft-deletes (or restores, `deletion: false`) the chosen submissions, all or nothing. */
export const bulkDelete = (ids: number[], deletion: boolean) =>
  api.post('/api/instances/bulkdelete/', { selected_ids: ids, is_deletion: deletion, showDeleted: !deletion });

export async function instanceHistory(id: number, signal?: AbortSignal) {
  return api.get<{ count: number; list: LogEntry[] }>('/api/logs/', {
    query: { contentType: 'iaso.instance', objectId: id, fields: 'field_diffs', limit: 50, page: 1, order: '-created_at' },
    signal,
  });
}

// ---------------------------------------------------------------- sending a submission

export interface NewSubmission {
  appId: string;
  formId: number;
  orgUnitId: number | null;
  period: string | null;
  /** The instance's uuid (from `meta/instanceID`, without `uuid:`). */
  uuid: string;
  data: FormData;
}

/** `uuid:abc` of the XML's `meta/instanceID`, or null. */
export function instanceIdOf(xml: string): string | null {
  const m = /<(?:\w+:)?instanceID>\s*([^<\s]+)\s*</.exec(xml);
  return m ? m[1]! : null;
}

/**
 * Sends a submission made in the browser: first Iaso's metadata call (`POST /api/instances/`,
 * which carries the org unit and period), then the XML and media through OpenRosa
 * (`POST /openrosa/<app_id>/submission`); the server joins them by the instanceID's uuid.
 * Both calls are idempotent: sending again after a lost answer is safe.
 */
export async function sendSubmission(s: NewSubmission): Promise<'created' | 'duplicate'> {
  const now = Date.now() / 1000;
  await api.post(`/api/instances/${queryString({ app_id: s.appId })}`, [
    {
      id: s.uuid,
      file: `${s.uuid}.xml`,
      name: `${s.uuid}.xml`,
      formId: s.formId,
      orgUnitId: s.orgUnitId,
      period: s.period,
      created_at: now,
      updated_at: now,
    },
  ]);
  const headers: Record<string, string> = { 'X-OpenRosa-Version': '1.0' };
  const token = csrfToken();
  if (token) headers['X-CSRFToken'] = token;
  let res: Response;
  try {
    res = await fetch(`/openrosa/${encodeURIComponent(s.appId)}/submission`, { method: 'POST', body: s.data, headers, credentials: 'same-origin' });
  } catch {
    throw toApiError(0, null);
  }
  if (res.status === 201) return 'created';
  if (res.status === 202) return 'duplicate';
  const text = await res.text();
  const message = /<message[^>]*>([\s\S]*?)<\/message>/.exec(text)?.[1] ?? null;
  throw toApiError(res.status, message ? { detail: message.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&') } : null);
}

// ---------------------------------------------------------------- editing the answers

export interface InstanceAttachment {
  id: number;
  name: string;
  file: string;
}

/** The attachments of one submission (name and signed link); `deleted` for a deleted submission. */
export function instanceAttachments(id: number, deleted = false, signal?: AbortSignal): Promise<InstanceAttachment[]> {
  return api.get<InstanceAttachment[]>('/api/instances/attachments/', { query: { search: `ids:${id}`, showDeleted: deleted ? 'true' : undefined }, signal });
}

/**
 * Marks an edited instance XML as Iaso's edit of submission `id`: the root's `iasoInstance`
 * attribute names it and `meta/editUserID` the editor (both set or replaced).
 */
export function markEdit(xml: string, id: number, userId: number | null): string {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  const root = doc.documentElement;
  if (!root || doc.getElementsByTagName('parsererror').length) throw new Error('The form produced an XML that cannot be read.');
  root.setAttribute('iasoInstance', String(id));
  if (userId !== null) {
    let meta = Array.from(root.children).find((c) => c.localName === 'meta');
    if (!meta) {
      meta = doc.createElementNS(root.namespaceURI, root.prefix ? `${root.prefix}:meta` : 'meta');
      root.appendChild(meta);
    }
    let editor = Array.from(meta.children).find((c) => c.localName === 'editUserID');
    if (!editor) {
      editor = doc.createElementNS(meta.namespaceURI, meta.prefix ? `${meta.prefix}:editUserID` : 'editUserID');
      meta.appendChild(editor);
    }
    editor.textContent = String(userId);
  }
  return new XMLSerializer().serializeToString(doc);
}

/**
 * Sends the edited answers of submission `id` (what Web Forms produced: the XML and the
 * attachments) to Iaso's edit path, `POST /api/enketo/submission`.
 */
export async function sendEdit(id: number, userId: number | null, data: FormData): Promise<void> {
  const file = data.get('xml_submission_file');
  if (!(file instanceof Blob)) throw new Error('The form produced no XML.');
  const xml = markEdit(await file.text(), id, userId);
  const body = new FormData();
  for (const [k, v] of data.entries()) {
    if (k !== 'xml_submission_file') body.append(k, v);
  }
  body.set('xml_submission_file', new Blob([xml], { type: 'text/xml' }), 'xml_submission_file.xml');
  await api.post('/api/enketo/submission', body);
}
