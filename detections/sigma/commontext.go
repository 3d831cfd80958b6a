package sigma

import "strings"

// Common text: what nearly every Windows event holds, in its paths, file
// names and arguments. A literal is looked up by a gram (gramScanner) and
// cut to a window (cutLiteral) that this text does not hold where it can:
// a rule literal "c:\windows\temp\x.exe" found by its gram ".exe" or
// "wind" is compared at nearly every event, by "emp\x" seldom.
//
// The list is knowledge of the platform, not of any corpus: system
// directories, per-user directories, executable and script extensions,
// the arguments of service hosts and console hosts, registry roots,
// account names and hash labels, ASCII lower case.
var commonText = []string{
	`c:\windows\system32\`, `c:\windows\syswow64\`, `c:\windows\winsxs\`,
	`c:\windows\temp\`, `c:\windows\`, `\windows\system32\`, `\systemroot\system32\`,
	`c:\program files\`, `c:\program files (x86)\`, `c:\programdata\`,
	`c:\users\`, `\appdata\local\temp\`, `\appdata\local\`, `\appdata\roaming\`,
	`\microsoft\windows\`, `\device\harddiskvolume`, `\windowsapps\`,
	`.exe`, `.exe"`, `.exe `, `.dll`, `.dll,`, `.sys`, `.tmp`, `.txt`, `.log`,
	`.ps1`, `.bat`, `.cmd`, `.vbs`, `.js`, `.msi`, `.ini`, `.xml`, `.json`,
	`svchost.exe -k `, `netsvcs -p -s `, `localservice`, `networkservice`, `dcomlaunch`,
	`conhost.exe 0xffffffff -forcev1`, `cmd.exe /c `, `powershell.exe `, `rundll32.exe `,
	`-embedding`, ` /c `, ` /s `, ` -p `, ` -k `, ` -s `, ` --`,
	`hklm\software\microsoft\windows\currentversion\`, `hklm\system\currentcontrolset\services\`,
	`hklm\software\`, `hkcu\software\`, `hku\`, `\registry\machine\`, `\registry\user\`,
	`nt authority\system`, `nt authority\local service`, `nt authority\network service`,
	`microsoft corporation`, `microsoft® windows® operating system`, `windows`,
	`md5=`, `sha1=`, `sha256=`, `imphash=`, `0x0000`, `ffffffff`,
}

// isCommonLiteral reports whether every gram of lit (ASCII lower case) is
// one of commonText, or, for a literal shorter than a gram, whether
// commonText holds it.
func isCommonLiteral(lit string) bool {
	if len(lit) < gramLen {
		for _, s := range commonText {
			if strings.Contains(s, lit) {
				return true
			}
		}
		return false
	}
	for j := 0; j+gramLen <= len(lit); j++ {
		if !commonGrams[gramOf(lit[j:])] {
			return false
		}
	}
	return true
}

// commonGrams holds every gram of commonText.
var commonGrams = func() map[uint32]bool {
	m := map[uint32]bool{}
	for _, s := range commonText {
		for j := 0; j+gramLen <= len(s); j++ {
			m[gramOf(s[j:])] = true
		}
	}
	return m
}()
