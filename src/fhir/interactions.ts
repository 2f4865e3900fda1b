/**
 * The FHIR RESTful interactions this server knows (https://hl7.org/fhir/R4/http.html), as data:
 * the REST router dispatches on them, scopes are granted per interaction and type, and the audit
 * trail records them. Below rest/ and auth/ so both may use it.
 */
export type Interaction = 'read' | 'vread' | 'history' | 'search' | 'create' | 'update' | 'delete' | 'transaction' | 'batch' | 'capabilities';
