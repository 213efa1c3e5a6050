// Projects and org unit types, loaded once per visit of the forms pages (filters and dialogs).

import { shallowRef } from 'vue';
import { allProjects, type Project } from '../../api/projects';
import { allOrgUnitTypes, type OrgUnitType } from '../../api/orgUnitTypes';

const projects = shallowRef<Project[]>([]);
const types = shallowRef<OrgUnitType[]>([]);
let loading: Promise<void> | null = null;

export function useFormCatalogs() {
  async function load(force = false): Promise<void> {
    if (loading && !force) return loading;
    loading = (async () => {
      const [p, ty] = await Promise.all([allProjects(), allOrgUnitTypes()]);
      projects.value = p;
      types.value = ty;
    })();
    try {
      await loading;
    } catch (e) {
      loading = null;
      throw e;
    }
  }
  return { projects, types, load };
}
