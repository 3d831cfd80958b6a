package pcap

import (
	"encoding/binary"
	"fmt"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// LinkTypeLinuxSLL2 is LINKTYPE_LINUX_SLL2 (276), the link type tcpdump
// writes for captures on the "any" interface. gopacket v1.1.19 does not know
// it, and its layers.LinkType is a uint8: pcapgo truncates 276 to 20, which
// is no assigned link type, so 20 stands for SLL2 here.
const LinkTypeLinuxSLL2 = layers.LinkType(276 & 0xff)

// sll2HeaderLen is the fixed length of a Linux cooked capture v2 header.
const sll2HeaderLen = 20

// LayerTypeLinuxSLL2 is the gopacket layer type of LinuxSLL2. The number is
// from the range gopacket leaves to applications (>= 2000).
var LayerTypeLinuxSLL2 = gopacket.RegisterLayerType(2276, gopacket.LayerTypeMetadata{
	Name:    "LinuxSLL2",
	Decoder: gopacket.DecodeFunc(decodeLinuxSLL2),
})

// LinuxSLL2 is the Linux cooked capture v2 header: protocol, interface
// index, ARPHRD type, packet type and link-layer address (20 bytes, all
// big-endian; see https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html).
type LinuxSLL2 struct {
	layers.BaseLayer
	Protocol       layers.EthernetType
	InterfaceIndex uint32
	ARPHRDType     uint16
	PacketType     layers.LinuxSLLPacketType
	AddrLen        uint8
	Addr           []byte
}

// LayerType returns LayerTypeLinuxSLL2.
func (s *LinuxSLL2) LayerType() gopacket.LayerType { return LayerTypeLinuxSLL2 }

// CanDecode returns LayerTypeLinuxSLL2.
func (s *LinuxSLL2) CanDecode() gopacket.LayerClass { return LayerTypeLinuxSLL2 }

// NextLayerType is the layer of the protocol field (an EtherType).
func (s *LinuxSLL2) NextLayerType() gopacket.LayerType { return s.Protocol.LayerType() }

// DecodeFromBytes decodes the 20-byte header. Addr aliases data.
func (s *LinuxSLL2) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if len(data) < sll2HeaderLen {
		df.SetTruncated()
		return fmt.Errorf("linux sll2: %d bytes, header needs %d", len(data), sll2HeaderLen)
	}
	s.Protocol = layers.EthernetType(binary.BigEndian.Uint16(data[0:2]))
	s.InterfaceIndex = binary.BigEndian.Uint32(data[4:8])
	s.ARPHRDType = binary.BigEndian.Uint16(data[8:10])
	s.PacketType = layers.LinuxSLLPacketType(data[10])
	s.AddrLen = data[11]
	n := min(int(s.AddrLen), 8)
	s.Addr = data[12 : 12+n]
	s.BaseLayer = layers.BaseLayer{Contents: data[:sll2HeaderLen], Payload: data[sll2HeaderLen:]}
	return nil
}

func decodeLinuxSLL2(data []byte, p gopacket.PacketBuilder) error {
	s := &LinuxSLL2{}
	if err := s.DecodeFromBytes(data, p); err != nil {
		return err
	}
	p.AddLayer(s)
	return p.NextDecoder(s.Protocol)
}
