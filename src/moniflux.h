/* moniflux: MoniFlux's test payload {testID, userID, logType, logRate,
 * logSize, metricsRate, traceRate, duration (s), destination {name,
 * endpoint, port, apiKey}} translated into a telemetry script
 * (docs/telemetry.md): format "moniflux", the endpoint's port replaced by
 * destination.port when given, logType as the log level when it names one. */
#ifndef STAMPEDE_MONIFLUX_H
#define STAMPEDE_MONIFLUX_H

#include "json.h"

/* The script for payload p (already checked member by member), validated
 * by script_parse: its JSON text (caller frees), or NULL with e naming the
 * payload's field ("destination.endpoint", "logRate", ...). */
char *moniflux_definition(yajl_val p, struct json_err *e);

#endif
