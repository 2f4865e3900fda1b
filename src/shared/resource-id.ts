/**
 * The id the server gives a resource it stores: a UUID version 7 (RFC 9562), whose first 48 bits
 * are the creation time in milliseconds and the other 74 are random. Ids made one after another
 * sort together, so a new row lands at the end of every B-tree keyed by id (the resources and
 * history primary keys, the index by resource) instead of on a random page: fewer pages written per
 * commit (docs/PERFORMANCE.md "Ids in time order"). The time an id carries is the one its
 * meta.lastUpdated already shows to whoever may read it; the random part keeps it unguessable.
 */
import { v7 } from 'uuid';

export function newResourceId(): string {
  return v7();
}
