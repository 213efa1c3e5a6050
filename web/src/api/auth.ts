// Browser session: log in/out, password reset, theme.

import { api } from './client';

export interface LoginAnswer {
  detail: string;
  user_id: number;
  csrf_token: string;
}

export const login = (username: string, password: string) =>
  api.post<LoginAnswer>('/login/', { username, password }, { quiet401: true });

export const logout = () => api.post<{ detail: string }>('/logout/');

export const requestPasswordReset = (email: string) =>
  api.post<{ detail: string }>('/api/password_reset/', { email });

export const confirmPasswordReset = (token: string, password: string) =>
  api.post<{ detail: string }>('/api/password_reset/confirm/', { token, password });

export interface Theme {
  app_title: string;
  logo_url: string;
  favicon_url: string;
  primary_color: string;
  secondary_color: string;
  primary_background_color: string;
  show_name_with_logo: boolean;
}

export const fetchTheme = () => api.get<Theme>('/api/theme/', { quiet401: true });
