using System.CommandLine;
using Flotilla.Cli;

// `up` hands Ctrl-C and SIGTERM to the .NET host, which stops the fleet in order; the command line must not race it.
var invocation = new InvocationConfiguration { ProcessTerminationTimeout = null };
return await CliCommands.Build().Parse(args).InvokeAsync(invocation);
