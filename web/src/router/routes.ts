// Every page of the dashboard: one line each. A page is a component under src/pages/, loaded
// on demand (its own chunk). `menu` puts it in the side menu, in a section, for users holding
// one of `permissions` (any of them; none = everyone logged in). See web/README.md.

import type { RouteRecordRaw } from 'vue-router';
import type { IconName } from '../components/Icon.vue';
import type { MessageKey } from '../i18n';
import { P } from '../permissions';

export type MenuSection = 'main' | 'georegistry' | 'data' | 'admin';

export interface PageMeta {
  /** Page title (menu label too), a translation key. */
  title: MessageKey;
  /** Reachable without logging in (login, password reset). */
  public?: boolean;
  /** Any of these permissions opens the page (and shows its menu entry). */
  permissions?: readonly string[];
  menu?: { section: MenuSection; icon: IconName; order: number };
}

declare module 'vue-router' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface RouteMeta extends Partial<PageMeta> {}
}

type Loader = RouteRecordRaw['component'];

function page(path: string, name: string, component: Loader, meta: PageMeta): RouteRecordRaw {
  return { path, name, component, meta } as RouteRecordRaw;
}

export const routes: RouteRecordRaw[] = [
  // Public pages.
  page('/login', 'login', () => import('../pages/auth/LoginPage.vue'), { title: 'login.title', public: true }),
  page('/forgot-password', 'forgot-password', () => import('../pages/auth/ForgotPasswordPage.vue'), { title: 'forgot.title', public: true }),
  page('/reset-password', 'reset-password', () => import('../pages/auth/ResetPasswordPage.vue'), { title: 'reset.title', public: true }),

  page('/', 'home', () => import('../pages/HomePage.vue'), { title: 'home.title', menu: { section: 'main', icon: 'home', order: 0 } }),
  page('/profile', 'profile', () => import('../pages/profile/ProfilePage.vue'), { title: 'profile.title' }),

  // Georegistry (org units, sources, types, groups, imports): pages plug in here as the APIs land, e.g.
  // page('/orgunits', 'orgunits', () => import('../pages/orgunits/OrgUnitsPage.vue'), { title: 'orgunits.title', permissions: [P.ORG_UNITS, P.ORG_UNITS_READ], menu: { section: 'georegistry', icon: 'tree', order: 10 } }),
  page('/orgunittypes', 'orgunittypes', () => import('../pages/orgunittypes/OrgUnitTypesPage.vue'), {
    title: 'orgUnitTypes.title',
    permissions: [P.ORG_UNIT_TYPES, P.ORG_UNITS, P.ORG_UNITS_READ],
    menu: { section: 'georegistry', icon: 'tag', order: 30 },
  }),

  // Data collection (forms, submissions) and tasks: likewise, e.g.
  // page('/forms', 'forms', () => import('../pages/forms/FormsPage.vue'), { title: 'forms.title', permissions: [P.FORMS], menu: { section: 'data', icon: 'form', order: 10 } }),

  // Administration.
  page('/users', 'users', () => import('../pages/users/UsersPage.vue'), {
    title: 'users.title',
    permissions: [P.USERS, P.USERS_MANAGED],
    menu: { section: 'admin', icon: 'users', order: 10 },
  }),
  page('/roles', 'roles', () => import('../pages/roles/RolesPage.vue'), {
    title: 'roles.title',
    permissions: [P.USER_ROLES],
    menu: { section: 'admin', icon: 'shield', order: 20 },
  }),
  page('/projects', 'projects', () => import('../pages/projects/ProjectsPage.vue'), {
    title: 'projects.title',
    permissions: [P.PROJECTS],
    menu: { section: 'admin', icon: 'folder', order: 30 },
  }),

  page('/:pathMatch(.*)*', 'not-found', () => import('../pages/NotFoundPage.vue'), { title: 'notFound.title' }),
];
