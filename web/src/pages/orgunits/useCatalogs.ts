// Types, groups and source versions for the org unit pickers, loaded once per page.
import { shallowRef } from 'vue';
import { allOrgUnitTypes, type OrgUnitType } from '../../api/orgUnitTypes';
import { groupsDropdown } from '../../api/groups';
import { allSources, type DataSource } from '../../api/sources';

const types = shallowRef<OrgUnitType[]>([]);
const groups = shallowRef<{ id: number; name: string; label: string }[]>([]);
const sources = shallowRef<DataSource[]>([]);
let loading: Promise<void> | null = null;

export function useCatalogs() {
  function load(force = false): Promise<void> {
    if (!loading || force) {
      loading = Promise.all([
        allOrgUnitTypes().then((v) => (types.value = v)),
        groupsDropdown().then((v) => (groups.value = v)),
        allSources().then((v) => (sources.value = v)),
      ])
        .then(() => undefined)
        .catch((e) => {
          loading = null;
          throw e;
        });
    }
    return loading;
  }
  return { types, groups, sources, load };
}
