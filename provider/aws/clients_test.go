package aws

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
)

// fakeSTS serves GetCallerIdentity on loopback; denied makes it answer
// InvalidClientTokenId.
func fakeSTS(t *testing.T, denied bool) (*httptest.Server, *[]string) {
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		if !strings.Contains(string(body), "Action=GetCallerIdentity") {
			t.Errorf("STS got %s", body)
		}
		w.Header().Set("Content-Type", "text/xml")
		if denied {
			w.WriteHeader(403)
			io.WriteString(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>`+
				`<Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error>`+
				`<RequestId>r1</RequestId></ErrorResponse>`)
			return
		}
		io.WriteString(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
			`<Arn>arn:aws:iam::123456789012:user/dr</Arn><UserId>AIDATEST</UserId><Account>123456789012</Account>`+
			`</GetCallerIdentityResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
	}))
	t.Cleanup(srv.Close)
	return srv, &auth
}

// hermeticAWS points the SDK's configuration at files in a temporary
// directory with one profile, dr, and at the fake STS.
func hermeticAWS(t *testing.T, stsURL string) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	creds := filepath.Join(dir, "credentials")
	if err := os.WriteFile(cfg, []byte("[profile dr]\nregion = eu-west-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(creds, []byte("[dr]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": cfg, "AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_ENDPOINT_URL_STS": stsURL,
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_S3": "",
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
}

func TestNewS3Clients(t *testing.T) {
	srv, auth := fakeSTS(t, false)
	hermeticAWS(t, srv.URL)
	c, err := NewS3Clients(context.Background(), "dr", "ap-northeast-2", "us-east-1", "")
	if err != nil {
		t.Fatalf("NewS3Clients: %v", err)
	}
	if c.AccountID != testAccount {
		t.Errorf("AccountID = %q", c.AccountID)
	}
	if len(*auth) != 1 || !strings.Contains((*auth)[0], "Credential=AKIDPROFILE/") {
		t.Errorf("STS authorization = %q, want the dr profile's key", *auth)
	}
	if r := c.Source.Options().Region; r != "ap-northeast-2" {
		t.Errorf("source region = %q", r)
	}
	if r := c.Destination.Options().Region; r != "us-east-1" {
		t.Errorf("destination region = %q", r)
	}
	if r := c.Control.Options().Region; r != "ap-northeast-2" {
		t.Errorf("control region = %q", r)
	}
	if c.Source.Options().BaseEndpoint != nil || c.Source.Options().UsePathStyle {
		t.Error("source has a custom endpoint without one asked for")
	}

	c, err = NewS3Clients(context.Background(), "dr", "ap-northeast-2", "us-east-1", "http://127.0.0.1:9000")
	if err != nil {
		t.Fatalf("NewS3Clients with endpoint: %v", err)
	}
	for name, o := range map[string]*string{"source": c.Source.Options().BaseEndpoint, "destination": c.Destination.Options().BaseEndpoint,
		"control": c.Control.Options().BaseEndpoint} {
		if sdkaws.ToString(o) != "http://127.0.0.1:9000" {
			t.Errorf("%s endpoint = %q", name, sdkaws.ToString(o))
		}
	}
	if !c.Source.Options().UsePathStyle {
		t.Error("custom endpoint without path-style addressing")
	}
}

func TestNewS3ClientsErrors(t *testing.T) {
	t.Run("bad credentials", func(t *testing.T) {
		srv, _ := fakeSTS(t, true)
		hermeticAWS(t, srv.URL)
		_, err := NewS3Clients(context.Background(), "dr", "ap-northeast-2", "us-east-1", "")
		if !errors.Is(err, ErrAccessDenied) || !strings.HasPrefix(err.Error(), "aws: sts get caller identity account: access denied") {
			t.Fatalf("error %v: want access denied from STS", err)
		}
	})
	t.Run("unknown profile", func(t *testing.T) {
		srv, _ := fakeSTS(t, false)
		hermeticAWS(t, srv.URL)
		_, err := NewS3Clients(context.Background(), "nope", "ap-northeast-2", "us-east-1", "")
		if err == nil || !strings.HasPrefix(err.Error(), `aws: load config profile "nope"`) {
			t.Fatalf("error %v: want a load config error naming the profile", err)
		}
	})
	t.Run("missing region", func(t *testing.T) {
		_, err := NewS3Clients(context.Background(), "", "ap-northeast-2", "", "")
		if !errors.Is(err, ErrConfig) {
			t.Fatalf("error %v is not ErrConfig", err)
		}
	})
}
