package cmd

import (
	"github.com/mangrove-soc/mangrove/collectors"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/sigma"
)

// ruleRegistry returns the rule kinds this binary knows.
func ruleRegistry() *detections.Registry {
	var reg detections.Registry
	reg.Register(sigma.Kind)
	return &reg
}

// collectorRegistry returns the collector types this binary knows: the
// values of `type:` in the configuration's collectors list.
func collectorRegistry() *collectors.Registry {
	var reg collectors.Registry
	return &reg
}
