package searchtest

import (
	"testing"

	"github.com/mangrove-soc/mangrove/internal/search"
)

func TestMemory(t *testing.T) {
	Run(t, func(t *testing.T) search.Store { return NewMemory() })
}
