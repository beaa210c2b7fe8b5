package diff

// allScenarios is every scenario, from the tables of the scenarios_*_test.go files.
func allScenarios() []scenario {
	var all []scenario
	for _, gen := range []func() []scenario{
		createScenarios,
		opScenarios,
		multiScenarios,
		aclScenarios,
		pathScenarios,
		sizeScenarios,
		sequenceScenarios,
		ttlScenarios,
		sessionScenarios,
		watchScenarios,
	} {
		all = append(all, gen()...)
	}
	return all
}
