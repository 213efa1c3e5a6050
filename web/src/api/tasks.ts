// /api/tasks/: background tasks (imports, exports, bulk updates), their progress, logs and
// result files; and the task-creation endpoints the dashboard uses.

import { api, request } from './client';
import { fetchPage, type PageParams } from './paging';
import { filterQuery, type ExportFormat, type OrgUnitFilters } from './orgUnits';

export type TaskStatus = 'QUEUED' | 'RUNNING' | 'SUCCESS' | 'ERRORED' | 'KILLED' | 'SKIPPED' | 'EXPORTED';
export const TASK_STATUSES: readonly TaskStatus[] = ['QUEUED', 'RUNNING', 'SUCCESS', 'ERRORED', 'KILLED'];

export interface TaskUser {
  id: number;
  username: string;
  full_name: string;
}

export interface Task {
  id: number;
  name: string;
  status: TaskStatus;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  progress_value: number | null;
  end_value: number | null;
  progress_message: string | null;
  should_be_killed: boolean;
  created_by: TaskUser | null;
  launcher: TaskUser | null;
  result: { result?: string; message?: string; data?: unknown } | null;
}

export const isAlive = (t: Task) => t.status === 'QUEUED' || t.status === 'RUNNING';

export function listTasks(params: PageParams, f: { status: string; type: string }, signal?: AbortSignal) {
  return fetchPage<Task>('/api/tasks/', 'tasks', params, { status: f.status || undefined, task_type: f.type || undefined }, signal);
}

export const getTask = (id: number, signal?: AbortSignal) => api.get<Task>(`/api/tasks/${id}/`, { signal });
export const taskTypes = () => api.get<string[]>('/api/tasks/types/');
export const killTask = (id: number) => api.patch<Task>(`/api/tasks/${id}/`, { should_be_killed: true });
export const relaunchTask = (id: number) => api.patch<Task>(`/api/tasks/${id}/relaunch/`);
export const taskLogs = (id: number) =>
  api.get<{ status: TaskStatus; logs: { created_at: number; message: string }[] }>(`/api/tasks/${id}/logs/`);
export const downloadUrl = (id: number) => `/api/tasks/${id}/download/`;
/** A successful task whose result is a file (`data: "file:<key>"`). */
export const hasFile = (t: Task) => t.status === 'SUCCESS' && typeof t.result?.data === 'string' && t.result.data.startsWith('file:');

export interface ImportBody {
  file: File;
  dataSource: number;
  versionNumber: number | null;
  description: string;
  defaultValid: boolean;
  format: 'gpkg' | 'csv';
}

/** `POST /api/tasks/create/importgpkg/` (multipart): a GeoPackage (or CSV) into a source. */
export async function importOrgUnits(b: ImportBody): Promise<Task> {
  const form = new FormData();
  form.set('file', b.file, b.file.name);
  form.set('data_source', String(b.dataSource));
  if (b.versionNumber !== null) form.set('version_number', String(b.versionNumber));
  if (b.description) form.set('description', b.description);
  form.set('default_valid', b.defaultValid ? 'true' : 'false');
  if (b.format === 'csv') form.set('format', 'csv');
  const data = await request<{ task: Task }>('POST', '/api/tasks/create/importgpkg/', { body: form });
  return data.task;
}

/** `POST /api/tasks/create/exportorgunits/?format=...&<filters>`: a large export as a task. */
export async function exportOrgUnitsTask(f: OrgUnitFilters, format: ExportFormat): Promise<Task> {
  const data = await api.post<{ task: Task }>('/api/tasks/create/exportorgunits/', undefined, { query: { ...filterQuery(f), format } });
  return data.task;
}

/** `POST /api/tasks/create/exportprofiles/`: the users as CSV. */
export async function exportProfilesTask(): Promise<Task> {
  const data = await api.post<{ task: Task }>('/api/tasks/create/exportprofiles/', {});
  return data.task;
}
