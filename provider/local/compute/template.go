package compute

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"text/template"
)

// compiledTemplate is a Template parsed and validated once at group creation.
type compiledTemplate struct {
	argv    []*template.Template
	envKeys []string
	env     map[string]*template.Template
}

func compileTemplate(t Template) (*compiledTemplate, error) {
	if len(t.Command) == 0 {
		return nil, errors.New("command is empty")
	}
	c := &compiledTemplate{env: make(map[string]*template.Template, len(t.Env))}
	for i, s := range t.Command {
		tt, err := template.New(fmt.Sprintf("command[%d]", i)).Option("missingkey=error").Parse(s)
		if err != nil {
			return nil, fmt.Errorf("parse command[%d]: %w", i, err)
		}
		c.argv = append(c.argv, tt)
	}
	c.envKeys = slices.Sorted(maps.Keys(t.Env))
	for _, k := range c.envKeys {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, fmt.Errorf("env %q: invalid variable name", k)
		}
		tt, err := template.New("env." + k).Option("missingkey=error").Parse(t.Env[k])
		if err != nil {
			return nil, fmt.Errorf("parse env %s: %w", k, err)
		}
		c.env[k] = tt
	}
	// Execute once with sample values so unknown keys fail now, not at the
	// first start.
	argv, _, err := c.render(Vars{
		Bin: "/bin", Addr: "127.0.0.10:8080", Host: "127.0.0.10", Port: 8080,
		Region: "region", Zone: "region-a", ID: "i-sample", Service: "service",
		Endpoint: "http://127.0.0.1:9000", StateDir: "/state",
	})
	if err != nil {
		return nil, err
	}
	if argv[0] == "" {
		return nil, errors.New("command[0] renders to an empty program name")
	}
	return c, nil
}

// render executes the templates: argv and the Template.Env entries as KEY=value.
func (c *compiledTemplate) render(v Vars) (argv, env []string, err error) {
	var b strings.Builder
	for i, tt := range c.argv {
		b.Reset()
		if err := tt.Execute(&b, v); err != nil {
			return nil, nil, fmt.Errorf("render command[%d]: %w", i, err)
		}
		argv = append(argv, b.String())
	}
	for _, k := range c.envKeys {
		b.Reset()
		if err := c.env[k].Execute(&b, v); err != nil {
			return nil, nil, fmt.Errorf("render env %s: %w", k, err)
		}
		env = append(env, k+"="+b.String())
	}
	return argv, env, nil
}

// instanceEnv is the environment of an instance: the parent's environment,
// then the pilotlight variables, then the rendered Template.Env (later
// entries win).
func instanceEnv(v Vars, cred Credentials, templated []string) []string {
	region := cred.Region
	if region == "" {
		region = v.Region
	}
	env := os.Environ()
	env = append(env,
		"PILOTLIGHT_INSTANCE_ID="+v.ID,
		"PILOTLIGHT_SERVICE="+v.Service,
		"PILOTLIGHT_REGION="+v.Region,
		"PILOTLIGHT_ZONE="+v.Zone,
		"PILOTLIGHT_ADDR="+v.Addr,
		"PILOTLIGHT_S3_ENDPOINT="+v.Endpoint,
		"AWS_ACCESS_KEY_ID="+cred.AccessKey,
		"AWS_SECRET_ACCESS_KEY="+cred.SecretKey,
		"AWS_REGION="+region,
	)
	return append(env, templated...)
}
