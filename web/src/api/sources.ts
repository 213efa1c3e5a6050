// /api/datasources/ and /api/sourceversions/: the containers of pyramids, and the account's
// default version (`/api/accounts/{id}/set-default-version/`).

import { api } from './client';
import type { ProjectRef } from './profiles';

export interface VersionSmall {
  id: number;
  number: number;
  description: string | null;
  created_at: number;
  updated_at: number;
  org_units_count: number;
}

export interface DataSource {
  id: number;
  name: string;
  description: string | null;
  read_only: boolean;
  default_version: VersionSmall | null;
  /** Iaso nests the list in a one-element list. */
  projects: ProjectRef[][];
  versions: VersionSmall[];
  tree_config_status_fields: string[];
  created_at: string;
  updated_at: string;
}

export interface SourceBody {
  name: string;
  description: string | null;
  read_only: boolean;
  project_ids: number[];
  default_version_id: number | null;
  tree_config_status_fields?: string[];
}

export const sourceProjects = (s: DataSource): ProjectRef[] => s.projects.flat();

export async function allSources(signal?: AbortSignal): Promise<DataSource[]> {
  const data = await api.get<{ sources: DataSource[] }>('/api/datasources/', { query: { order: 'name' }, signal });
  return data.sources;
}

export const createSource = (body: SourceBody) => api.post<DataSource>('/api/datasources/', body);
/** A PUT: send `default_version_id` every time (Iaso clears it when left out). */
export const updateSource = (id: number, body: SourceBody) => api.put<DataSource>(`/api/datasources/${id}/`, body);

export const createVersion = (sourceId: number, description: string | null) =>
  api.post<VersionSmall>('/api/sourceversions/', { data_source_id: sourceId, description });
export const updateVersion = (id: number, description: string | null) =>
  api.put<VersionSmall>(`/api/sourceversions/${id}/`, { description });

export const setAccountDefaultVersion = (accountId: number, versionId: number) =>
  api.put<void>(`/api/accounts/${accountId}/set-default-version/`, { default_version: versionId });

/** Versions of every source, for pickers: `{id, label}`. */
export function versionOptions(sources: DataSource[]): { value: number; label: string; sourceId: number }[] {
  return sources.flatMap((s) => s.versions.map((v) => ({ value: v.id, label: `${s.name} — ${v.number}`, sourceId: s.id })));
}
