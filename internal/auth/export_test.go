package auth

// DummyHash is the hash a login for an unknown address is checked against.
const DummyHash = dummyHash

// WatchPasswordChecks makes s report every password check to seen (and
// still do it), so a test can see which hash a login was checked against.
func WatchPasswordChecks(s *Staff, seen func(hash string)) {
	s.checkPassword = func(hash, password string) bool {
		seen(hash)
		return CheckPassword(hash, password)
	}
}
