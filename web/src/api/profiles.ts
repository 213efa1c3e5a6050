// /api/profiles/: the current user (`me`) and the account's users.

import { api, type Query } from './client';
import { fetchPage, type PageParams } from './paging';

export interface AccountRef {
  id: number;
  name: string;
  modules?: string[];
  feature_flags?: string[];
}

export interface ProjectRef {
  id: number;
  name: string;
  app_id?: string;
  color?: string | null;
}

export interface RoleRef {
  id: number;
  name: string;
}

export interface RoleWithPermissions extends RoleRef {
  permissions: string[];
}

/** `/api/profiles/me/` and `/api/profiles/{id}/`. */
export interface Profile {
  id: number;
  user_id: number;
  user_name: string;
  first_name: string;
  last_name: string;
  email: string;
  language: string | null;
  organization: string | null;
  dhis2_id: string | null;
  home_page: string | null;
  phone_number: string | null;
  permissions: string[];
  user_permissions: string[];
  is_staff: boolean;
  is_superuser: boolean;
  user_roles: number[];
  user_roles_permissions: RoleWithPermissions[];
  projects: ProjectRef[];
  other_accounts: AccountRef[];
  account: AccountRef | null;
  color: string | null;
}

/** A login without any account answers with this smaller shape. */
export type Me = Profile | (Pick<Profile, 'user_id' | 'user_name' | 'first_name' | 'last_name' | 'email' | 'is_staff' | 'is_superuser'> & { account: null; projects: [] });

/** `/api/profiles/` list items. */
export interface ProfileListItem {
  id: number;
  user_id: number;
  user_name: string;
  first_name: string;
  last_name: string;
  email: string;
  phone_number: string | null;
  user_roles: RoleRef[];
  projects: ProjectRef[];
  user_display: string;
}

export interface ProfileFilter {
  search?: string;
  user_roles?: number[];
  projects?: number[];
}

export const fetchMe = () => api.get<Me>('/api/profiles/me/', { quiet401: true });

export const updateMe = (changes: { language?: string; first_name?: string; last_name?: string; home_page?: string }) =>
  api.patch<Profile>('/api/profiles/me/', changes);

export const changeMyPassword = (password: string) =>
  api.patch<void>('/api/profiles/me/update-password/', { password });

export const changePassword = (profileId: number, password: string) =>
  api.patch<void>(`/api/profiles/${profileId}/update-password/`, { password });

export function listProfiles(params: PageParams, filter: ProfileFilter, signal?: AbortSignal) {
  const query: Query = { search: filter.search, user_roles: filter.user_roles, projects: filter.projects };
  return fetchPage<ProfileListItem>('/api/profiles/', 'results', params, query, signal);
}

export const fetchProfile = (id: number) => api.get<Profile>(`/api/profiles/${id}/`);

export interface ProfileBody {
  user_name?: string;
  password?: string;
  email?: string;
  first_name?: string;
  last_name?: string;
  send_email_invitation?: boolean;
  user_roles?: number[];
  projects?: number[];
  user_permissions?: string[];
  language?: string | null;
  organization?: string | null;
  dhis2_id?: string | null;
  phone_number?: string | null;
}

export const createProfile = (body: ProfileBody) => api.post<Profile>('/api/profiles/', body);
export const updateProfile = (id: number, body: ProfileBody) => api.patch<Profile>(`/api/profiles/${id}/`, body);
export const deleteProfile = (id: number) => api.delete(`/api/profiles/${id}/`);
