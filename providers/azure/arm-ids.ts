/** ARM resource IDs: rules and frontends reference each other by ID, never by name. Pure. */

export interface Scope {
  subscriptionId: string;
  resourceGroup: string;
}

export function resourceId(scope: Scope, type: string, name: string): string {
  return `/subscriptions/${scope.subscriptionId}/resourceGroups/${scope.resourceGroup}/providers/Microsoft.Network/${type}/${name}`;
}

export function childId(scope: Scope, type: string, name: string, childType: string, child: string): string {
  return `${resourceId(scope, type, name)}/${childType}/${child}`;
}

/** The last path segment of an ID (the child's or resource's name), case kept. */
export function nameOfId(id: string | undefined): string | undefined {
  return id?.split('/').pop();
}

/** ARM compares IDs case-insensitively. */
export function sameId(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
}

/** The resource group in an ID. */
export function resourceGroupOfId(id: string | undefined): string | undefined {
  return /\/resourceGroups\/([^/]+)\//i.exec(id ?? '')?.[1];
}
