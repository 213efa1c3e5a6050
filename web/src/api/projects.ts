// /api/projects/ and the feature-flag catalogue.

import { api } from './client';
import { fetchPage, type PageParams } from './paging';

export interface ProjectFlag {
  id: number;
  code: string;
  name: string;
  description: string | null;
  configuration?: unknown;
}

export interface Project {
  id: number;
  name: string;
  app_id: string;
  description: string | null;
  needs_authentication: boolean;
  color: string | null;
  feature_flags: ProjectFlag[];
  created_at: number;
  updated_at: number;
}

export interface FeatureFlag {
  id: number;
  code: string;
  name: string;
  description: string | null;
  requires_authentication: boolean;
  category: string | null;
  order: number;
  is_dangerous: boolean;
}

export function listProjects(params: PageParams, signal?: AbortSignal) {
  return fetchPage<Project>('/api/projects/', 'projects', params, {}, signal);
}

/** Every project the caller may see (for filters and pickers). */
export async function allProjects(): Promise<Project[]> {
  const data = await api.get<{ projects: Project[] }>('/api/projects/', { query: { order: 'name' } });
  return data.projects;
}

export interface ProjectBody {
  name?: string;
  app_id?: string;
  needs_authentication?: boolean;
  description?: string;
  color?: string;
  feature_flags?: { code: string; configuration?: unknown }[];
}

export const createProject = (body: ProjectBody) => api.post<Project>('/api/projects/', body);
export const updateProject = (id: number, body: ProjectBody) => api.patch<Project>(`/api/projects/${id}/`, body);

export async function featureFlags(): Promise<FeatureFlag[]> {
  const data = await api.get<{ featureflags: FeatureFlag[] }>('/api/featureflags/');
  return data.featureflags;
}
