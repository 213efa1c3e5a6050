// The router: pages from routes.ts, the login guard, and the browser tab title.

import { createRouter, createWebHistory, type Router } from 'vue-router';
import { routes } from './routes';
import { useSession } from '../stores/session';
import { setPageTitle } from '../stores/theme';
import { t } from '../i18n';

export function makeRouter(): Router {
  const router = createRouter({
    history: createWebHistory(),
    routes,
    scrollBehavior: (_to, _from, saved) => saved ?? { top: 0 },
  });
  const session = useSession();

  router.beforeEach(async (to) => {
    if (session.state.status === 'unknown') {
      try {
        await session.load();
      } catch {
        // The shell shows the error; public pages still work.
      }
    }
    const loggedIn = session.state.status === 'ready';
    if (!to.meta.public && !loggedIn) {
      return { name: 'login', query: to.fullPath !== '/' ? { next: to.fullPath } : {} };
    }
    if (to.name === 'login' && loggedIn) {
      return safeNext(to.query.next);
    }
    return true;
  });

  router.afterEach((to) => {
    setPageTitle(to.meta.title ? t(to.meta.title) : null);
  });

  return router;
}

/** Only same-site paths are followed after login (no open redirect). */
export function safeNext(next: unknown): string {
  const s = Array.isArray(next) ? next[0] : next;
  if (typeof s === 'string' && s.startsWith('/') && !s.startsWith('//') && !s.startsWith('/\\')) return s;
  return '/';
}
