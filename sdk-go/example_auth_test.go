package corral_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	corral "github.com/corral-dev/corral/sdk-go"
)

// TLS with a client certificate (mTLS). Compiled, not run here: it needs a server
// started with --tls-cert, --tls-key and --tls-client-ca, and those files.
func ExampleNewTLSConfig() {
	ctx := context.Background()
	// The CA that signed the members' certificates, and this client's certificate and
	// key ("" for none): a server started with --tls-client-ca takes its CN as the user.
	tlsConfig, err := corral.NewTLSConfig("ca.pem", "client.pem", "client-key.pem")
	if err != nil {
		log.Fatal(err)
	}
	client, err := corral.New(ctx, corral.Config{Endpoints: endpoints, TLS: tlsConfig})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Put(ctx, "/over-tls", []byte("hello"), corral.WithCreateIfMissing()); err != nil {
		log.Fatal(err)
	}
}

// Auth turned on, users, roles, ACLs and the typed errors.
func Example_auth() {
	ctx := context.Background()
	// Auth needs the user root; anyone may add it while auth is off.
	admin, err := corral.New(ctx, corral.Config{Endpoints: authEndpoints})
	if err != nil {
		log.Fatal(err)
	}
	if err := admin.Auth().UserAdd(ctx, "root", "root-secret"); err != nil {
		log.Fatal(err)
	}
	if err := admin.Auth().Enable(ctx); err != nil {
		log.Fatal(err)
	}
	admin.Close()

	// A client with a user name and password authenticates by itself, and refreshes
	// its token before it expires.
	root, err := corral.New(ctx, corral.Config{Endpoints: authEndpoints, Username: "root", Password: "root-secret"})
	if err != nil {
		log.Fatal(err)
	}
	defer root.Close()
	status, err := root.Auth().Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("authenticated as", status.User)
	for _, step := range []error{
		root.Auth().UserAdd(ctx, "alice", "alice-secret"),
		root.Auth().RoleAdd(ctx, "readers"),
		root.Auth().UserGrantRole(ctx, "alice", "readers"),
	} {
		if step != nil {
			log.Fatal(step)
		}
	}
	if _, err := root.Create(ctx, "/team-a", []byte("config"), corral.WithACL(corral.RoleACL("readers", corral.PermRead))); err != nil {
		log.Fatal(err)
	}
	acl, err := root.GetACL(ctx, "/team-a")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(acl.ACL[0].Principal, acl.ACL[0].Perms, "version", acl.Stat.ACLVersion)
	newACL := []corral.ACLEntry{corral.RoleACL("readers", corral.PermRead), corral.UserACL("alice", corral.PermRead|corral.PermWrite)}
	if _, err := root.SetACL(ctx, "/team-a", newACL, corral.WithExpectedACLVersion(acl.Stat.ACLVersion)); err != nil {
		log.Fatal(err)
	}

	alice, err := corral.New(ctx, corral.Config{Endpoints: authEndpoints, Username: "alice", Password: "alice-secret"})
	if err != nil {
		log.Fatal(err)
	}
	defer alice.Close()
	if _, err := alice.Put(ctx, "/team-a", []byte("changed by alice")); err != nil {
		log.Fatal(err)
	}
	_, err = alice.Create(ctx, "/team-a/child", nil)
	var denied *corral.PermissionDeniedError
	if errors.As(err, &denied) {
		fmt.Println("denied:", denied.Path, denied.Permission, denied.User)
	}

	anonymous, err := corral.New(ctx, corral.Config{Endpoints: authEndpoints})
	if err != nil {
		log.Fatal(err)
	}
	defer anonymous.Close()
	_, err = anonymous.Get(ctx, "/team-a")
	fmt.Println("anonymous:", errors.Is(err, corral.ErrUnauthenticated), errors.Is(err, corral.ErrAuthRequired))
	// Output:
	// authenticated as root
	// role:readers read version 0
	// denied: /team-a create alice
	// anonymous: true true
}
