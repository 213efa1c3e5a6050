// /api/forms/, /api/formversions/ and /api/formattachments/: forms, their XLSForm versions and
// the media files they use.

import { api, type Query } from './client';
import { fetchPage, type PageParams } from './paging';
import type { Project } from './projects';

export const PERIOD_TYPES = ['DAY', 'WEEK', 'MONTH', 'QUARTER', 'QUARTER_NOV', 'SIX_MONTH', 'YEAR', 'FINANCIAL_NOV'] as const;
export type PeriodType = (typeof PERIOD_TYPES)[number];

export interface VersionSummary {
  id: number;
  version_id: string;
  file: string;
  xls_file: string | null;
  created_at: number;
  updated_at: number;
}

export interface Form {
  id: number;
  name: string;
  form_id: string | null;
  device_field: string | null;
  location_field: string | null;
  org_unit_types: { id: number; name: string; short_name?: string }[];
  org_unit_type_ids: number[];
  projects: Project[];
  project_ids: number[];
  period_type: PeriodType | null;
  single_per_period: boolean;
  periods_before_allowed: number;
  periods_after_allowed: number;
  latest_form_version: VersionSummary | null;
  instances_count: number;
  instance_updated_at: number | null;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
  derived: boolean;
  label_keys: string[];
}

export interface FormVersion {
  id: number;
  version_id: string;
  form_id: number;
  form_name: string;
  full_name: string;
  xls_file: string | null;
  file: string;
  md5: string;
  created_at: number;
  updated_at: number;
  created_by: { username: string; first_name: string; last_name: string } | null;
  start_period: string | null;
  end_period: string | null;
  warnings?: string[];
}

export interface FormAttachment {
  id: number;
  name: string;
  file: string;
  md5: string;
  form_id: number;
  created_at: number;
  updated_at: number;
}

/** The list filters as the dashboard keeps them (in the URL). */
export interface FormFilters {
  [k: string]: string | number[];
  search: string;
  projects: number[];
  types: number[];
  deleted: string;
}

export const EMPTY_FORM_FILTERS: FormFilters = { search: '', projects: [], types: [], deleted: '' };

function formQuery(f: FormFilters): Query {
  return {
    search: f.search || undefined,
    projectsIds: f.projects,
    orgUnitTypeIds: f.types,
    only_deleted: f.deleted === 'only' ? 'true' : undefined,
    show_deleted: f.deleted === 'all' ? 'true' : undefined,
  };
}

export function listForms(params: PageParams, f: FormFilters, signal?: AbortSignal) {
  return fetchPage<Form>('/api/forms/', 'forms', params, formQuery(f), signal);
}

/** Every form the caller sees (for filters and pickers), deleted ones left out. */
export async function allForms(): Promise<Form[]> {
  const data = await api.get<{ forms: Form[] }>('/api/forms/', { query: { order: 'name' } });
  return data.forms;
}

export const getForm = (id: number, signal?: AbortSignal) => api.get<Form>(`/api/forms/${id}/`, { signal });

export interface FormBody {
  name?: string;
  project_ids?: number[];
  org_unit_type_ids?: number[];
  period_type?: PeriodType | null;
  single_per_period?: boolean;
  periods_before_allowed?: number;
  periods_after_allowed?: number;
  location_field?: string | null;
  device_field?: string | null;
  label_keys?: string[];
  deleted_at?: null;
}

export const createForm = (body: FormBody) => api.post<Form>('/api/forms/', body);
export const updateForm = (id: number, body: FormBody) => api.patch<Form>(`/api/forms/${id}/`, body);
/** Soft delete: the form stops accepting submissions and leaves the lists; it can be restored. */
export const deleteForm = (id: number) => api.delete(`/api/forms/${id}/`);
export const restoreForm = (id: number) => api.patch<Form>(`/api/forms/${id}/`, { deleted_at: null });

export async function formVersions(formId: number, signal?: AbortSignal): Promise<FormVersion[]> {
  const data = await api.get<{ form_versions: FormVersion[] }>('/api/formversions/', { query: { form_id: formId, order: '-created_at' }, signal });
  return data.form_versions;
}

/** Uploads an XLSForm (.xlsx, .xls or .csv) as a new version; the server converts it to an XForm. */
export function uploadVersion(formId: number, file: File): Promise<FormVersion> {
  const body = new FormData();
  body.set('form_id', String(formId));
  body.set('xls_file', file, file.name);
  return api.post<FormVersion>('/api/formversions/', body);
}

export async function formAttachments(formId: number, signal?: AbortSignal): Promise<FormAttachment[]> {
  const data = await api.get<{ results: FormAttachment[] }>('/api/formattachments/', { query: { form_id: formId }, signal });
  return data.results;
}

export function uploadAttachment(formId: number, file: File): Promise<FormAttachment> {
  const body = new FormData();
  body.set('form_id', String(formId));
  body.set('file', file, file.name);
  return api.post<FormAttachment>('/api/formattachments/', body);
}
export const deleteAttachment = (id: number) => api.delete(`/api/formattachments/${id}/`);

/** A link the API gave (absolute, signed) as a same-origin path, so that it works behind any host name. */
export function sameOrigin(url: string): string {
  try {
    const u = new URL(url, window.location.origin);
    return u.pathname + u.search;
  } catch {
    return url;
  }
}

/** The text of a stored file (the XForm of a version, a submission's XML). */
export async function fetchText(url: string, signal?: AbortSignal): Promise<string> {
  const res = await fetch(sameOrigin(url), { credentials: 'same-origin', signal });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.text();
}
