package alert

import (
	"testing"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/catalogue"
)

// The catalogue IDs an alert mail builds from its kind, role and detail
// keys exist in every language, so no mail goes out with an ID in it.
func TestEveryAlertKindRoleAndDetailHasItsWordsInEveryLanguage(t *testing.T) {
	cat := catalogue.Default()
	var ids []string
	for _, kind := range []string{KindReadQuotaExceeded, KindStaffLocked, KindIncidentOverdue, KindIncidentNoticeStale, KindStorageFull, "unknown"} {
		for _, part := range []string{"subject", "summary", "action"} {
			ids = append(ids, "alert.kind."+kind+"."+part)
		}
	}
	for _, role := range kakunin.Roles {
		ids = append(ids, "alert.role."+string(role))
	}
	for _, k := range detailOrder {
		ids = append(ids, "alert.detail."+k)
	}
	for _, id := range ids {
		for _, lang := range cat.Languages() {
			if _, err := cat.Localize(lang, catalogue.M(id, "Kind", "k", "Staff", "s", "Role", "admin")); err != nil {
				t.Error(err)
			}
		}
	}
}
