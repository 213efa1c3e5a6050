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

/** Iaso's read access to org units. */
const ORG_UNIT_READ = [P.ORG_UNITS, P.ORG_UNITS_READ, 'iaso_registry_write', 'iaso_registry_read'];

/** Iaso's readers of forms and of submissions. */
const FORM_READ = [P.FORMS, P.SUBMISSIONS];
const SUBMISSION_READ = [P.FORMS, P.SUBMISSIONS, 'iaso_registry_write', 'iaso_registry_read'];

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

  // Georegistry: org units (list, map, tree, detail), sources and versions, types, groups.
  page('/orgunits', 'orgunits', () => import('../pages/orgunits/OrgUnitsPage.vue'), {
    title: 'orgUnits.title',
    permissions: ORG_UNIT_READ,
    menu: { section: 'georegistry', icon: 'tree', order: 10 },
  }),
  page('/orgunits/map', 'orgunits-map', () => import('../pages/orgunits/OrgUnitsMapPage.vue'), { title: 'orgUnits.mapTitle', permissions: ORG_UNIT_READ }),
  page('/orgunits/tree', 'orgunits-tree', () => import('../pages/orgunits/OrgUnitTreePage.vue'), { title: 'orgUnits.treeTitle', permissions: ORG_UNIT_READ }),
  page('/orgunits/:id(\\d+)', 'orgunit', () => import('../pages/orgunits/OrgUnitPage.vue'), { title: 'orgUnit.title', permissions: ORG_UNIT_READ }),
  page('/sources', 'sources', () => import('../pages/sources/SourcesPage.vue'), {
    title: 'sources.title',
    permissions: [P.SOURCES, P.WRITE_SOURCES, P.ORG_UNITS, P.ORG_UNITS_READ, 'iaso_mappings', 'iaso_links'],
    menu: { section: 'georegistry', icon: 'layers', order: 20 },
  }),
  page('/orgunittypes', 'orgunittypes', () => import('../pages/orgunittypes/OrgUnitTypesPage.vue'), {
    title: 'orgUnitTypes.title',
    permissions: [P.ORG_UNIT_TYPES, P.ORG_UNITS, P.ORG_UNITS_READ],
    menu: { section: 'georegistry', icon: 'tag', order: 30 },
  }),
  page('/groups', 'groups', () => import('../pages/groups/GroupsPage.vue'), {
    title: 'groups.title',
    permissions: [P.ORG_UNITS, P.ORG_UNITS_READ, P.ORG_UNIT_GROUPS],
    menu: { section: 'georegistry', icon: 'group', order: 40 },
  }),
  page('/groupsets', 'groupsets', () => import('../pages/groups/GroupSetsPage.vue'), { title: 'groupSets.title', permissions: [P.ORG_UNITS, P.ORG_UNITS_READ] }),

  // Data collection: forms (versions, attachments, filling in the browser) and submissions.
  page('/forms', 'forms', () => import('../pages/forms/FormsPage.vue'), {
    title: 'forms.title',
    permissions: FORM_READ,
    menu: { section: 'data', icon: 'form', order: 10 },
  }),
  page('/forms/:id(\\d+)', 'form', () => import('../pages/forms/FormPage.vue'), { title: 'form.title', permissions: FORM_READ }),
  page('/forms/:id(\\d+)/fill', 'form-fill', () => import('../pages/forms/FormFillPage.vue'), { title: 'fill.title', permissions: FORM_READ }),
  page('/submissions', 'submissions', () => import('../pages/submissions/SubmissionsPage.vue'), {
    title: 'submissions.title',
    permissions: SUBMISSION_READ,
    menu: { section: 'data', icon: 'inbox', order: 20 },
  }),
  page('/submissions/map', 'submissions-map', () => import('../pages/submissions/SubmissionsMapPage.vue'), { title: 'submissions.mapTitle', permissions: SUBMISSION_READ }),
  page('/submissions/:id(\\d+)/edit', 'submission-edit', () => import('../pages/submissions/SubmissionEditPage.vue'), { title: 'editAnswers.title', permissions: [P.UPDATE_SUBMISSION] }),
  page('/submissions/:id(\\d+)', 'submission', () => import('../pages/submissions/SubmissionPage.vue'), { title: 'submission.title', permissions: SUBMISSION_READ }),

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
  page('/tasks', 'tasks', () => import('../pages/tasks/TasksPage.vue'), {
    title: 'tasks.title',
    permissions: [P.DATA_TASKS, 'iaso_planning_write'],
    menu: { section: 'admin', icon: 'tasks', order: 40 },
  }),

  page('/:pathMatch(.*)*', 'not-found', () => import('../pages/NotFoundPage.vue'), { title: 'notFound.title' }),
];
