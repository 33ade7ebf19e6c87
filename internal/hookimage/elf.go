package hookimage

import (
	"bytes"
	"debug/elf"
	"fmt"
)

// machines maps an architecture to its ELF machine and byte order.
var machines = map[string]struct {
	machine elf.Machine
	order   string
}{
	"amd64":   {elf.EM_X86_64, "LittleEndian"},
	"arm64":   {elf.EM_AARCH64, "LittleEndian"},
	"ppc64le": {elf.EM_PPC64, "LittleEndian"},
	"s390x":   {elf.EM_S390, "BigEndian"},
}

// checkELF refuses a binary that is not a static Linux executable of the architecture: the image has no
// dynamic loader and no C library, and a binary of another architecture fails on the node with
// "exec format error".
func checkELF(bin []byte, arch string) error {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	defer f.Close()
	want, ok := machines[arch]
	if !ok {
		return fmt.Errorf("no ELF machine known for %q", arch)
	}
	if f.Machine != want.machine || f.ByteOrder.String() != want.order {
		return fmt.Errorf("built for %s (%s), not for %s; build it with GOOS=linux GOARCH=%s", f.Machine, f.ByteOrder, arch, arch)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("ELF type %s is not an executable", f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("dynamically linked (it asks for a program interpreter); build it with CGO_ENABLED=0")
		}
	}
	return nil
}
