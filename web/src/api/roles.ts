// /api/userroles/ and the permission catalogue.

import { api } from './client';
import { fetchPage, type PageParams } from './paging';

export interface UserRole {
  id: number;
  name: string;
  permissions: string[];
  created_at: number;
  updated_at: number;
}

export interface PermissionInfo {
  id: number;
  name: string;
  codename: string;
}

export function listRoles(params: PageParams, search: string | undefined, signal?: AbortSignal) {
  return fetchPage<UserRole>('/api/userroles/', 'results', params, { search }, signal);
}

/** Every role of the account (for filters and pickers). */
export async function allRoles(): Promise<UserRole[]> {
  const data = await api.get<{ results: UserRole[] }>('/api/userroles/');
  return data.results;
}

export const createRole = (name: string, permissions: string[]) =>
  api.post<UserRole>('/api/userroles/', { name, permissions });
export const updateRole = (id: number, name: string, permissions: string[]) =>
  api.put<UserRole>(`/api/userroles/${id}/`, { name, permissions });
export const deleteRole = (id: number) => api.delete(`/api/userroles/${id}/`);

/** Permissions by dashboard group (`forms`, `org_units`, `admin`, ...), in the server's order. */
export async function groupedPermissions(): Promise<[string, PermissionInfo[]][]> {
  const data = await api.get<{ permissions: Record<string, PermissionInfo[]> }>('/api/permissions/grouped_permissions/');
  return Object.entries(data.permissions);
}
