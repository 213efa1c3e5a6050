// Iaso's permission codes the dashboard checks (the server checks them too: hiding a menu entry
// is a convenience, not a protection).

export const P = {
  USERS: 'iaso_users',
  USERS_MANAGED: 'iaso_users_managed',
  USER_ROLES: 'iaso_user_roles',
  PROJECTS: 'iaso_projects',
  ACCOUNT_MANAGEMENT: 'iaso_account_management',
  ORG_UNITS: 'iaso_org_units',
  ORG_UNITS_READ: 'iaso_org_units_read',
  ORG_UNITS_HISTORY: 'iaso_org_units_history',
  ORG_UNIT_TYPES: 'iaso_org_unit_types',
  ORG_UNIT_GROUPS: 'iaso_org_unit_groups',
  SOURCES: 'iaso_sources',
  WRITE_SOURCES: 'iaso_write_sources',
  DATA_TASKS: 'iaso_data_tasks',
  FORMS: 'iaso_forms',
  SUBMISSIONS: 'iaso_submissions',
  UPDATE_SUBMISSION: 'iaso_update_submission',
} as const;

export type PermissionCode = (typeof P)[keyof typeof P];
