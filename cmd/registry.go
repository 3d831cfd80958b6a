package cmd

import (
	"github.com/mangrove-soc/mangrove/collectors"
	"github.com/mangrove-soc/mangrove/collectors/esbulk"
	"github.com/mangrove-soc/mangrove/collectors/file"
	"github.com/mangrove-soc/mangrove/collectors/pcap/live"
	"github.com/mangrove-soc/mangrove/collectors/syslog"
	"github.com/mangrove-soc/mangrove/detections"
	"github.com/mangrove-soc/mangrove/detections/ioc"
	"github.com/mangrove-soc/mangrove/detections/netrules"
	"github.com/mangrove-soc/mangrove/detections/sigma"
)

// ruleRegistry returns the rule kinds this binary knows.
func ruleRegistry() *detections.Registry {
	var reg detections.Registry
	reg.Register(sigma.Kind)
	reg.Register(ioc.Kind)
	reg.Register(netrules.Kind)
	return &reg
}

// collectorRegistry returns the collector types this binary knows: the
// values of `type:` in the configuration's collectors list.
func collectorRegistry() *collectors.Registry {
	var reg collectors.Registry
	reg.Register(syslog.Type)
	reg.Register(esbulk.Type)
	reg.Register(file.Type)
	reg.Register(live.Type)
	return &reg
}
