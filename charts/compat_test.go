package charts

import (
	"testing"
	"testing/fstest"
)

func TestLoadMatrixEmbedded(t *testing.T) {
	t.Parallel()
	m, err := LoadMatrix()
	if err != nil {
		t.Fatalf("LoadMatrix: %v", err)
	}
	if got := m.Lines(); len(got) != 2 || got[0] != "1.7" || got[1] != "1.8" {
		t.Fatalf("Lines() = %v, want [1.7 1.8]", got)
	}
	if m["1.8"].Channel != "release-v1.8" || m["1.7"].Channel != "release-v1.7" {
		t.Fatalf("channels = %q, %q", m["1.8"].Channel, m["1.7"].Channel)
	}
}

func TestSupports(t *testing.T) {
	t.Parallel()
	m, err := LoadMatrix()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		line, platform, version string
		want                    bool
	}{
		{"1.8", PlatformOCP4, "4.12.0", false},
		{"1.8", PlatformOCP4, "4.13.9", false},
		{"1.8", PlatformOCP4, "4.14.0", true},
		{"1.8", PlatformOCP4, "4.17.3", true},
		{"1.8", PlatformOCP4, "4.99", true},
		{"1.8", PlatformOCP3, "3.11", false},
		{"1.7", PlatformOCP3, "3.11", true},
		{"1.7", PlatformOCP3, "3.10", false},
		{"1.7", PlatformOCP4, "4.2", true},
		{"1.7", PlatformOCP4, "4.17.40", true},
		{"1.7", PlatformOCP4, "4.18.0", false},
	}
	for _, tc := range tests {
		t.Run(tc.line+"/"+tc.platform+"/"+tc.version, func(t *testing.T) {
			t.Parallel()
			v, err := ParseVersion(tc.version)
			if err != nil {
				t.Fatal(err)
			}
			if got := m[tc.line].Supports(tc.platform, v); got != tc.want {
				t.Fatalf("Supports = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	m, err := LoadMatrix()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m["1.8"].Describe(), "OCP 4.14 and later"; got != want {
		t.Errorf("1.8: %q, want %q", got, want)
	}
	if got, want := m["1.7"].Describe(), "OCP 3.11 and OCP 4 up to 4.17"; got != want {
		t.Errorf("1.7: %q, want %q", got, want)
	}
}

func TestParseVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "v1.8.8", want: "1.8.8"},
		{in: "4.17", want: "4.17"},
		{in: "1.7.19-rc1", want: "1.7.19"},
		{in: "4.16.0+abc", want: "4.16.0"},
		{in: "", wantErr: true},
		{in: "1.x", wantErr: true},
		{in: "1.2.3.4", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			v, err := ParseVersion(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && v.String() != tc.want {
				t.Fatalf("got %q, want %q", v.String(), tc.want)
			}
		})
	}
}

func TestLoadMatrixRejectsBadFiles(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"unknown key":      "line: \"1.8\"\nchannel: c\nplatforms: {ocp4: {min: \"4.14\"}}\nextra: 1\n",
		"unknown platform": "line: \"1.8\"\nchannel: c\nplatforms: {k8s: {min: \"1.30\"}}\n",
		"bad bound":        "line: \"1.8\"\nchannel: c\nplatforms: {ocp4: {min: \"four\"}}\n",
		"no channel":       "line: \"1.8\"\nplatforms: {ocp4: {}}\n",
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fsys := fstest.MapFS{"mtc-x/compat.yaml": {Data: []byte(content)}}
			if _, err := loadMatrix(fsys); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}
