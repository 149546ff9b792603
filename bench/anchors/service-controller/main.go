// Benchmark anchor: the upstream Kubernetes service controller (k8s.io/cloud-provider/controllers/service),
// unchanged, run the way cloud-provider-kind runs it, with a fake cloud that assigns addresses from a pool
// and answers every call after an injected latency. Our own wiring; the controller is the upstream one.
//
// Every cloud call the controller makes is printed on stdout as one line, after the call returns:
//
//	ensure <namespace>/<name> <nodes>
//	update <namespace>/<name> <nodes>
//	delete <namespace>/<name>
//
// so the benchmark timestamps them as they arrive (node churn: the last "update" line), and "synced" once
// the informers' caches have synced.
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	cloudprovider "k8s.io/cloud-provider"
	servicecontroller "k8s.io/cloud-provider/controllers/service"
	controllersmetrics "k8s.io/component-base/metrics/prometheus/controllers"
	"k8s.io/klog/v2"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the controller's identity")
	workers := flag.Int("concurrent-service-syncs", 1, "service workers (the upstream default is 1)")
	// the cloud-controller-manager's defaults (--kube-api-qps, --kube-api-burst)
	qps := flag.Float64("kube-api-qps", 20, "client-side rate limit, requests per second")
	burst := flag.Int("kube-api-burst", 30, "client-side burst")
	latency := flag.Duration("latency", 0, "every fake cloud call answers after this long")
	pool := flag.String("pool", "10.80.0.0/16", "addresses the fake cloud hands out")
	clusterName := flag.String("cluster-name", "bench", "cluster name passed to the cloud")
	userAgent := flag.String("user-agent", "bench-upstream-service-controller", "client user agent")
	klog.InitFlags(nil)
	flag.Parse()

	prefix, err := netip.ParsePrefix(*pool)
	if err != nil || !prefix.Addr().Is4() {
		klog.Fatalf("--pool: %q is not an IPv4 CIDR", *pool)
	}
	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		klog.Fatalf("kubeconfig: %v", err)
	}
	config.QPS = float32(*qps)
	config.Burst = *burst
	config.UserAgent = *userAgent
	client := kubernetes.NewForConfigOrDie(config)

	cloud := &fakeCloud{latency: *latency, pool: prefix, byUID: map[types.UID]netip.Addr{}, used: map[netip.Addr]bool{}}
	// the cloud-controller-manager's shared informers resync after 12-24 h: never during a benchmark
	factory := informers.NewSharedInformerFactory(client, 12*time.Hour)
	controller, err := servicecontroller.New(
		cloud,
		client,
		factory.Core().V1().Services(),
		factory.Core().V1().Nodes(),
		*clusterName,
		utilfeature.DefaultFeatureGate,
	)
	if err != nil {
		klog.Fatalf("service controller: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	factory.Start(ctx.Done())
	go controller.Run(ctx, *workers, controllersmetrics.NewControllerManagerMetrics("bench"))
	// the controller waits for the same caches before its workers start
	factory.WaitForCacheSync(ctx.Done())
	fmt.Println("synced")
	<-ctx.Done()
}

// fakeCloud assigns one address per Service from a pool, keeps it by Service UID, and adopts the address a
// Service already shows in its status (a real cloud finds its existing load balancer after a restart).
type fakeCloud struct {
	latency time.Duration
	pool    netip.Prefix

	mu    sync.Mutex
	byUID map[types.UID]netip.Addr
	used  map[netip.Addr]bool
	next  uint32
}

var _ cloudprovider.Interface = (*fakeCloud)(nil)
var _ cloudprovider.LoadBalancer = (*fakeCloud)(nil)

func (c *fakeCloud) Initialize(cloudprovider.ControllerClientBuilder, <-chan struct{}) {}
func (c *fakeCloud) LoadBalancer() (cloudprovider.LoadBalancer, bool)                  { return c, true }
func (c *fakeCloud) Instances() (cloudprovider.Instances, bool)                        { return nil, false }
func (c *fakeCloud) InstancesV2() (cloudprovider.InstancesV2, bool)                    { return nil, false }
func (c *fakeCloud) Zones() (cloudprovider.Zones, bool)                                { return nil, false }
func (c *fakeCloud) Clusters() (cloudprovider.Clusters, bool)                          { return nil, false }
func (c *fakeCloud) Routes() (cloudprovider.Routes, bool)                              { return nil, false }
func (c *fakeCloud) ProviderName() string                                              { return "bench-fake" }
func (c *fakeCloud) HasClusterID() bool                                                { return true }

func (c *fakeCloud) wait(ctx context.Context) error {
	if c.latency <= 0 {
		return nil
	}
	t := time.NewTimer(c.latency)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func key(s *v1.Service) string { return s.Namespace + "/" + s.Name }

func (c *fakeCloud) GetLoadBalancer(ctx context.Context, _ string, s *v1.Service) (*v1.LoadBalancerStatus, bool, error) {
	if err := c.wait(ctx); err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ip, ok := c.byUID[s.UID]
	if !ok {
		return nil, false, nil
	}
	return status(ip), true, nil
}

func (c *fakeCloud) GetLoadBalancerName(_ context.Context, _ string, s *v1.Service) string {
	return cloudprovider.DefaultLoadBalancerName(s)
}

func (c *fakeCloud) EnsureLoadBalancer(ctx context.Context, _ string, s *v1.Service, nodes []*v1.Node) (*v1.LoadBalancerStatus, error) {
	if err := c.wait(ctx); err != nil {
		return nil, err
	}
	ip, err := c.assign(s)
	if err != nil {
		return nil, err
	}
	fmt.Printf("ensure %s %d\n", key(s), len(nodes))
	return status(ip), nil
}

func (c *fakeCloud) UpdateLoadBalancer(ctx context.Context, _ string, s *v1.Service, nodes []*v1.Node) error {
	if err := c.wait(ctx); err != nil {
		return err
	}
	fmt.Printf("update %s %d\n", key(s), len(nodes))
	return nil
}

func (c *fakeCloud) EnsureLoadBalancerDeleted(ctx context.Context, _ string, s *v1.Service) error {
	if err := c.wait(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	if ip, ok := c.byUID[s.UID]; ok {
		delete(c.used, ip)
		delete(c.byUID, s.UID)
	}
	c.mu.Unlock()
	fmt.Printf("delete %s\n", key(s))
	return nil
}

func (c *fakeCloud) assign(s *v1.Service) (netip.Addr, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ip, ok := c.byUID[s.UID]; ok {
		return ip, nil
	}
	for _, ing := range s.Status.LoadBalancer.Ingress {
		if ip, err := netip.ParseAddr(ing.IP); err == nil && c.pool.Contains(ip) && !c.used[ip] {
			c.byUID[s.UID], c.used[ip] = ip, true
			return ip, nil
		}
	}
	base := binary.BigEndian.Uint32(c.pool.Masked().Addr().AsSlice())
	size := uint32(1) << (32 - c.pool.Bits())
	for i := uint32(0); i < size; i++ {
		n := (c.next + i) % size
		if n == 0 || n == size-1 {
			continue // network and broadcast addresses
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], base+n)
		ip := netip.AddrFrom4(b)
		if !c.used[ip] {
			c.next = n + 1
			c.byUID[s.UID], c.used[ip] = ip, true
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("pool %s is exhausted", c.pool)
}

// status says ipMode VIP, as the apiserver defaults it: a cloud that left it out would differ from the
// stored status on every re-ensure and cost a status write each time.
func status(ip netip.Addr) *v1.LoadBalancerStatus {
	vip := v1.LoadBalancerIPModeVIP
	return &v1.LoadBalancerStatus{Ingress: []v1.LoadBalancerIngress{{IP: ip.String(), IPMode: &vip}}}
}
