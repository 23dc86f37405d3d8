/* openapi: the OpenAPI 3.1 description of the REST API (docs/openapi.json),
 * compiled into the binary and served at GET /v1/openapi.json. A unit
 * test checks it against the router, route by route and method by method. */
#ifndef STAMPEDE_OPENAPI_H
#define STAMPEDE_OPENAPI_H

extern const char stampede_openapi_json[];

#endif
