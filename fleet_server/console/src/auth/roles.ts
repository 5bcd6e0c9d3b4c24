// What the signed-in user may do where, from GET /api/v1/users/me (fleet_server/auth/roles.py:
// admin > site_manager > dispatcher > viewer; a grant without site_id covers every site).

import type { Role, RoleGrant } from "../api/types";

const RANK: Record<Role, number> = { viewer: 1, dispatcher: 2, site_manager: 3, admin: 4 };

/** True when the grants give `role` or higher at `siteId` (null: at every site). */
export function hasRole(grants: readonly RoleGrant[], role: Role, siteId: string | null): boolean {
  return grants.some(
    (g) => RANK[g.role] >= RANK[role] && (g.site_id === null || g.site_id === undefined || g.site_id === siteId),
  );
}

/** True when the grants give `role` or higher at some site. */
export function hasRoleAnywhere(grants: readonly RoleGrant[], role: Role): boolean {
  return grants.some((g) => RANK[g.role] >= RANK[role]);
}

export function canDispatch(grants: readonly RoleGrant[], siteId: string): boolean {
  return hasRole(grants, "dispatcher", siteId);
}

export function canManageSchedules(grants: readonly RoleGrant[], siteId: string): boolean {
  return hasRole(grants, "site_manager", siteId);
}

export function isAdmin(grants: readonly RoleGrant[]): boolean {
  return hasRole(grants, "admin", null);
}

/** The strongest role the user holds anywhere, for the header. */
export function strongestRole(grants: readonly RoleGrant[]): Role | null {
  let best: Role | null = null;
  for (const g of grants) if (best === null || RANK[g.role] > RANK[best]) best = g.role;
  return best;
}
