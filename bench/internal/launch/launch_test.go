package launch

import "testing"

func TestCheckLoopback(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:15000", "http://[::1]:9292", "http://localhost:9292", "https://127.0.0.1"} {
		if err := CheckLoopback(u, "-url"); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	for _, u := range []string{"http://192.0.2.1:5000", "http://10.0.0.1:9292", "ftp://127.0.0.1", "127.0.0.1:5000", "not a url"} {
		if err := CheckLoopback(u, "-url"); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
}
