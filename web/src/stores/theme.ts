// The configured look (app title, logo, favicon, colours) from `/api/theme/`. The server also
// writes the colours, title and favicon into index.html, so the first paint is already right.

import { reactive } from 'vue';
import { fetchTheme, type Theme } from '../api/auth';

export const DEFAULT_THEME: Theme = {
  app_title: 'Iaso',
  logo_url: '',
  favicon_url: '',
  primary_color: '#006699',
  secondary_color: '#ff7961',
  primary_background_color: '#f5f5f5',
  show_name_with_logo: true,
};

export const theme = reactive<Theme>({ ...DEFAULT_THEME });

export async function loadTheme(): Promise<void> {
  try {
    Object.assign(theme, await fetchTheme());
  } catch {
    // Defaults: the dashboard stays usable when this small call fails.
  }
  applyTheme();
}

export function applyTheme(): void {
  const root = document.documentElement.style;
  root.setProperty('--primary', theme.primary_color);
  root.setProperty('--secondary', theme.secondary_color);
  root.setProperty('--primary-bg', theme.primary_background_color);
  if (theme.favicon_url) {
    let link = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
    if (!link) {
      link = document.createElement('link');
      link.rel = 'icon';
      document.head.appendChild(link);
    }
    link.href = theme.favicon_url;
  }
}

/** Browser tab title: "Page | App". */
export function setPageTitle(page: string | null): void {
  document.title = page ? `${page} | ${theme.app_title}` : theme.app_title;
}
